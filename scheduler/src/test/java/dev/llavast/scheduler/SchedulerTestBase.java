package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;

/**
 * Starts a scheduler over fake executors and, after every test, checks the invariants: every sink
 * got exactly one terminal callback and in the right order, no sequence is left anywhere, every KV
 * block is free or cached-unreferenced, the admission counters are back to zero, every executor was
 * closed once.
 */
abstract class SchedulerTestBase {
  final FakeTicker ticker = new FakeTicker();
  final List<FakeExecutor> executors = new ArrayList<>();
  final List<RecordingSink> sinks = new ArrayList<>();
  SchedulerImpl scheduler;
  boolean manual;
  boolean shutDownByTest;

  /** Manual stepping: the test thread is the worker thread. */
  void startManual(int workers, int maxContext, Consumer<SchedulerBuilder> config) {
    start(workers, maxContext, config, true);
  }

  void startThreaded(int workers, int maxContext, Consumer<SchedulerBuilder> config) {
    start(workers, maxContext, config, false);
  }

  private void start(
      int workers, int maxContext, Consumer<SchedulerBuilder> config, boolean manualMode) {
    SchedulerBuilder b =
        Scheduler.builder()
            .ticker(ticker)
            .blockSize(4)
            .kvBlocks(64)
            .maxBatchTokens(64)
            .maxRunningSequences(16)
            .idlePoll(Duration.ofMillis(1))
            .callbackExecutor(Runnable::run);
    for (int i = 0; i < workers; i++) {
      FakeExecutor e = new FakeExecutor(new ExecutorSpec("fake:" + i, maxContext, 1, -1));
      executors.add(e);
      b.addExecutor(e);
    }
    if (manualMode) {
      b.manualStepping();
    }
    config.accept(b);
    manual = manualMode;
    scheduler = (SchedulerImpl) b.build();
  }

  RecordingSink sink(String name) {
    RecordingSink s = new RecordingSink(name);
    sinks.add(s);
    return s;
  }

  /** Deterministic prompt ids in [1, 1000). */
  static int[] ids(int seed, int n) {
    int[] a = new int[n];
    long h = seed * 7919L + 13;
    for (int i = 0; i < n; i++) {
      h = BlockHasher.mix(h + i);
      a[i] = 1 + (int) Math.floorMod(h, 999L);
    }
    return a;
  }

  static PromptInput text(int seed, int n) {
    return PromptInput.ofTokens(ids(seed, n));
  }

  RequestHandle submit(String id, PromptInput prompt, SamplingParams sp, RecordingSink sink) {
    return scheduler.submit(GenerationRequest.of(id, prompt, sp), sink);
  }

  RequestHandle submit(String id, PromptInput prompt, int maxNew, RecordingSink sink) {
    return submit(id, prompt, SamplingParams.greedy(maxNew), sink);
  }

  RequestHandle submitPending(
      String id,
      CompletionStage<PromptInput> prompt,
      int promptTokens,
      int maxNew,
      RecordingSink sink) {
    return scheduler.submit(
        GenerationRequest.pending(
            id, prompt, promptTokens, null, SamplingParams.greedy(maxNew), 0, null),
        sink);
  }

  /** One iteration of every worker (manual mode). */
  void step() {
    for (int i = 0; i < scheduler.workerCount(); i++) {
      scheduler.worker(i).runOnce();
    }
  }

  /** Iterates until no worker holds work, at most {@code max} iterations. */
  void runUntilIdle(int max) {
    for (int n = 0; n < max; n++) {
      boolean any = false;
      for (int i = 0; i < scheduler.workerCount(); i++) {
        any |= scheduler.worker(i).hasWork();
      }
      if (!any) {
        return;
      }
      step();
    }
    throw new AssertionError("still busy after " + max + " iterations");
  }

  List<FakeExecutor.StepRecord> lastPlan(int worker) {
    List<List<FakeExecutor.StepRecord>> p = executors.get(worker).plans;
    return p.get(p.size() - 1);
  }

  @AfterEach
  void checkInvariants() throws Exception {
    if (scheduler == null) {
      return;
    }
    if (!shutDownByTest) {
      for (RecordingSink s : sinks) {
        assertThat(manual || s.await(10)).as("%s terminated before shutdown", s).isTrue();
        assertThat(s.terminals()).as("terminal callbacks of %s before shutdown", s).isEqualTo(1);
      }
      if (manual) {
        for (int i = 0; i < scheduler.workerCount(); i++) {
          Worker w = scheduler.worker(i);
          assertThat(w.heldSequences()).as("sequences left on worker %d", i).isZero();
          w.blockManager().checkIdle();
        }
      }
    }
    scheduler.shutdown(Duration.ofSeconds(5));
    for (RecordingSink s : sinks) {
      assertThat(s.terminals()).as("terminal callbacks of %s", s).isEqualTo(1);
      assertThat(s.violation()).as("callback order of %s", s).isNull();
    }
    for (int i = 0; i < scheduler.workerCount(); i++) {
      Worker w = scheduler.worker(i);
      assertThat(w.heldSequences()).as("sequences left on worker %d", i).isZero();
      w.blockManager().checkIdle();
      assertThat(scheduler.stats().workers().get(i).usedBlocks()).isZero();
    }
    assertThat(scheduler.inFlightCount()).isZero();
    assertThat(scheduler.stats().queuedRequests()).isZero();
    assertThat(scheduler.stats().queuedPromptTokens()).isZero();
    for (FakeExecutor e : executors) {
      assertThat(e.closes.get()).as("executor closes").isEqualTo(1);
    }
  }
}

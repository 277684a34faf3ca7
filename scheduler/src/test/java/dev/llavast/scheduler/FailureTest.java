package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Executor failures fail only their step's sequences; repeated failures make the worker unhealthy.
 */
class FailureTest extends SchedulerTestBase {
  private static final int POISON = 7777;

  private static PromptInput poisoned() {
    int[] t = ids(1, 6);
    t[0] = POISON;
    return PromptInput.ofTokens(t);
  }

  private static boolean containsPoison(StepPlan p) {
    return p.sequences().stream().anyMatch(s -> s.prompt().tokenIds()[0] == POISON);
  }

  @Test
  void failedStepFailsOnlyItsSequencesAndFreesTheirBlocks() {
    startManual(1, 512, b -> b.maxRunningSequences(2));
    executors.get(0).failWhen = FailureTest::containsPoison;
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    RecordingSink c = sink("c");
    submit("a", poisoned(), 5, a);
    submit("b", text(2, 6), 5, b);
    submit("c", text(3, 6), 5, c); // waits: only two may run
    step();
    assertThat(a.error())
        .isInstanceOf(InternalSchedulerException.class)
        .hasMessageContaining("model step failed on worker 0 (fake:0)")
        .hasRootCauseMessage("injected step failure");
    assertThat(b.error()).isInstanceOf(InternalSchedulerException.class);
    assertThat(scheduler.worker(0).blockManager().usedCount()).isZero();
    assertThat(scheduler.isWorkerHealthy(0)).isTrue();
    runUntilIdle(20);
    assertThat(c.tokens()).isEqualTo(FakeExecutor.expected(text(3, 6), SamplingParams.greedy(5)));
    RecordingSink d = sink("d");
    submit("d", text(4, 6), 5, d);
    runUntilIdle(20);
    assertThat(d.tokens()).isEqualTo(FakeExecutor.expected(text(4, 6), SamplingParams.greedy(5)));
    assertThat(scheduler.stats().workers().get(0).stepFailuresTotal()).isEqualTo(1);
  }

  @Test
  void aFailedSampleFailsOnlyItsSequenceAndCachesNoneOfItsBlocks() {
    startManual(1, 512, b -> b.maxRunningSequences(4));
    executors.get(0).failSampleWhen = s -> s.prompt().tokenIds()[0] == POISON && !s.isPrefill();
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    RecordingSink c = sink("c");
    submit("a", poisoned(), 5, a);
    submit("b", text(2, 6), 5, b);
    submit("c", text(3, 6), 5, c);
    runUntilIdle(20);
    assertThat(a.error())
        .isInstanceOf(InternalSchedulerException.class)
        .hasMessageContaining("model step failed on worker 0 (fake:0) for this sequence")
        .hasMessageContaining("injected sample failure");
    assertThat(a.error().reason()).isEqualTo(SchedulerError.INTERNAL);
    assertThat(a.tokens()).hasSize(1); // the prefill's token; its first decode failed
    assertThat(b.tokens()).isEqualTo(FakeExecutor.expected(text(2, 6), SamplingParams.greedy(5)));
    assertThat(c.tokens()).isEqualTo(FakeExecutor.expected(text(3, 6), SamplingParams.greedy(5)));
    assertThat(scheduler.worker(0).blockManager().usedCount()).isZero();
    assertThat(scheduler.isWorkerHealthy(0)).isTrue();
    assertThat(scheduler.stats().workers().get(0).stepFailuresTotal()).isZero();
  }

  @Test
  void repeatedFailuresMarkTheWorkerUnhealthyAndASuccessfulStepRecoversIt() {
    startManual(1, 512, b -> b.maxConsecutiveFailures(2));
    executors.get(0).failWhen = p -> true;
    submit("a", text(1, 6), 5, sink("a"));
    step();
    assertThat(scheduler.isWorkerHealthy(0)).isTrue();
    submit("b", text(2, 6), 5, sink("b"));
    step();
    assertThat(scheduler.isWorkerHealthy(0)).isFalse();
    assertThat(scheduler.isReady()).isFalse();
    assertThat(scheduler.stats().workers().get(0).healthy()).isFalse();
    executors.get(0).failWhen = p -> false;
    RecordingSink c = sink("c"); // a lone unhealthy worker still takes work, so it can recover
    submit("c", text(3, 6), 5, c);
    runUntilIdle(20);
    assertThat(c.tokens()).isEqualTo(FakeExecutor.expected(text(3, 6), SamplingParams.greedy(5)));
    assertThat(scheduler.isWorkerHealthy(0)).isTrue();
    assertThat(scheduler.isReady()).isTrue();
  }

  @Test
  void wrongResultSizeIsAStepFailure() {
    startManual(1, 512, b -> {});
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    submit("a", text(1, 6), 5, a);
    submit("b", text(2, 6), 5, b);
    executors.get(0).dropOneSample = true;
    step();
    assertThat(a.error())
        .isInstanceOf(InternalSchedulerException.class)
        .hasMessageContaining(
            "executor returned 1 token ids and 1 logprobs for a step that samples 2 sequences");
    assertThat(b.error()).isInstanceOf(InternalSchedulerException.class);
    assertThat(a.tokens()).isEmpty();
  }

  @Test
  void kvPoolAllocationFailureFailsTheBuildAndClosesEveryExecutor() {
    FakeExecutor.failAllocate = true;
    try {
      assertThatThrownBy(() -> startThreaded(2, 512, b -> {}))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("could not allocate its KV pool of 64 blocks")
          .hasRootCauseMessage("injected: no memory for 64 blocks");
    } finally {
      FakeExecutor.failAllocate = false;
    }
    assertThat(scheduler).isNull();
    assertThat(executors).hasSize(2).allSatisfy(e -> assertThat(e.closes.get()).isEqualTo(1));
  }

  @Test
  void fatalErrorInTheLoopFailsEveryRequestAndMarksTheWorkerDead() throws Exception {
    startThreaded(1, 512, b -> {});
    executors.get(0).throwError = true;
    RecordingSink a = sink("a");
    submit("a", text(1, 6), 5, a);
    assertThat(a.await(10)).isTrue();
    assertThat(a.error())
        .isInstanceOf(InternalSchedulerException.class)
        .hasMessageContaining("worker 0 (fake:0) failed");
    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (scheduler.isWorkerHealthy(0) && System.nanoTime() < until) {
      Thread.sleep(1);
    }
    assertThat(scheduler.isWorkerHealthy(0)).isFalse();
    assertThat(scheduler.isReady()).isFalse();
    assertThatThrownBy(() -> submit("b", text(2, 6), 5, new RecordingSink("b")))
        .isInstanceOf(SchedulerUnavailableException.class);
    assertThat(scheduler.worker(0).awaitTermination(Duration.ofSeconds(10).toNanos())).isTrue();
    assertThat(executors.get(0).closes.get()).isEqualTo(1);
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Real worker threads, concurrent submitters and cancels, shutdown. Bounded in time. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConcurrencyTest extends SchedulerTestBase {

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Test
  void concurrentRequestsOnTwoWorkersProduceTheTokensEachWouldAlone() throws Exception {
    // 24 blocks of 4 per worker: tight enough that preemption happens under load.
    startThreaded(
        2,
        512,
        b -> b.ticker(Ticker.system()).kvBlocks(24).maxBatchTokens(32).maxRunningSequences(8));
    int n = 32;
    List<PromptInput> prompts = new ArrayList<>();
    List<RecordingSink> ss = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      // four "videos": requests on one video share their first 3 blocks
      int[] shared = ids(100 + i % 4, 12);
      int[] own = ids(i, 4 + i % 9);
      int[] t = new int[shared.length + own.length];
      System.arraycopy(shared, 0, t, 0, shared.length);
      System.arraycopy(own, 0, t, shared.length, own.length);
      prompts.add(PromptInput.ofTokens(t));
      ss.add(sink("r" + i));
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int th = 0; th < 4; th++) {
        int first = th;
        fs.add(
            pool.submit(
                () -> {
                  for (int i = first; i < n; i += 4) {
                    GenerationRequest r =
                        GenerationRequest.of(
                            "r" + i,
                            prompts.get(i),
                            "video-" + (i % 4),
                            SamplingParams.greedy(12 + i % 9),
                            i % 3,
                            null);
                    RequestHandle h = scheduler.submit(r, ss.get(i));
                    if (i % 5 == 4) {
                      sleep(1);
                      h.cancel();
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : fs) {
        f.get(20, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    for (int i = 0; i < n; i++) {
      RecordingSink s = ss.get(i);
      assertThat(s.await(20)).as("request %d ended", i).isTrue();
      List<Integer> expected =
          FakeExecutor.expected(prompts.get(i), SamplingParams.greedy(12 + i % 9));
      if (s.error() != null) {
        assertThat(i % 5).as("only cancelled requests fail, %s: %s", s, s.error()).isEqualTo(4);
        assertThat(s.error()).isInstanceOf(RequestCancelledException.class);
        assertThat(s.tokens()).isEqualTo(expected.subList(0, s.tokens().size()));
      } else {
        assertThat(s.tokens()).as("tokens of request %d", i).isEqualTo(expected);
      }
    }
    SchedulerStats st = scheduler.stats();
    assertThat(st.workers().get(0).stepsTotal()).isPositive();
    assertThat(st.workers().get(1).stepsTotal()).isPositive();
  }

  @Test
  void gracefulShutdownLetsRunningRequestsFinishThenRefusesWork() throws Exception {
    startThreaded(2, 512, b -> b.ticker(Ticker.system()));
    List<RecordingSink> ss = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      RecordingSink s = sink("r" + i);
      ss.add(s);
      submit("r" + i, text(i, 8), 40, s);
    }
    shutDownByTest = true;
    assertThat(scheduler.shutdown(Duration.ofSeconds(20))).isTrue();
    for (int i = 0; i < 4; i++) {
      assertThat(ss.get(i).reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(ss.get(i).tokens())
          .isEqualTo(FakeExecutor.expected(text(i, 8), SamplingParams.greedy(40)));
    }
    assertThat(scheduler.isReady()).isFalse();
    assertThatThrownBy(() -> submit("late", text(9, 8), 4, new RecordingSink("late")))
        .isInstanceOf(SchedulerUnavailableException.class)
        .hasMessageContaining("shutting down");
    CompletableFuture<MediaFeatures> e = scheduler.encode(new FakeMedia("v", 4));
    assertThat(e).isCompletedExceptionally();
  }

  @Test
  void shutdownEndsWhatDidNotFinishWithinTheGracePeriod() throws Exception {
    startThreaded(2, 1024, b -> b.ticker(Ticker.system()).kvBlocks(512));
    executors.forEach(e -> e.onStep = () -> sleep(1));
    List<RecordingSink> ss = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      RecordingSink s = sink("r" + i);
      ss.add(s);
      submit("r" + i, text(i, 8), 900, s);
    }
    CompletableFuture<PromptInput> never = new CompletableFuture<>();
    RecordingSink pending = sink("pending");
    submitPending("pending", never, 8, 4, pending);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (ss.get(0).tokens().isEmpty() && System.nanoTime() < until) {
      sleep(1);
    }
    shutDownByTest = true;
    long t0 = System.nanoTime();
    assertThat(scheduler.shutdown(Duration.ofMillis(50))).isFalse();
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
    for (RecordingSink s : sinks) {
      assertThat(s.terminals()).isEqualTo(1);
      assertThat(s.error()).as("%s", s).isInstanceOf(SchedulerUnavailableException.class);
    }
    assertThat(ss.get(0).tokens()).isNotEmpty();
    assertThat(never).isNotDone();
  }

  @Test
  void deadlineEndsARunningRequestOnTheRealClock() throws Exception {
    startThreaded(1, 1024, b -> b.ticker(Ticker.system()).kvBlocks(512));
    executors.get(0).onStep = () -> sleep(1);
    RecordingSink s = sink("slow");
    scheduler.submit(
        GenerationRequest.of(
            "slow", text(1, 8), null, SamplingParams.greedy(900), 0, Duration.ofMillis(30)),
        s);
    assertThat(s.await(10)).isTrue();
    assertThat(s.error()).isInstanceOf(DeadlineExceededException.class);
    assertThat(s.tokens().size()).isLessThan(900);
    assertThat(s.callbackThread.getName()).startsWith("llavast-worker-0");
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Two workers: media affinity, least-loaded balancing, no starvation. */
class DispatchTest extends SchedulerTestBase {

  private RequestHandle media(String id, String key, int tokens) {
    return scheduler.submit(
        GenerationRequest.of(
            id, text(id.hashCode(), tokens), key, SamplingParams.greedy(3), 0, null),
        sink(id));
  }

  @Test
  void requestsWithoutMediaGoToTheLeastLoadedWorker() {
    startManual(2, 512, b -> {});
    assertThat(media("a", null, 20).workerIndex()).isZero();
    assertThat(media("b", null, 10).workerIndex()).isEqualTo(1);
    assertThat(media("c", null, 5).workerIndex()).isEqualTo(1); // 10 < 20
    assertThat(media("d", null, 5).workerIndex()).isEqualTo(1); // 15 < 20
    assertThat(media("e", null, 5).workerIndex()).isZero(); // 20 == 20: first
    runUntilIdle(50);
    assertThat(executors.get(0).plans).isNotEmpty();
    assertThat(executors.get(1).plans).isNotEmpty();
  }

  @Test
  void sameMediaGoesBackToItsWorkerUntilThatWorkerIsOverloaded() {
    startManual(2, 512, b -> b.affinitySlackTokens(20));
    assertThat(media("a1", "vid-A", 20).workerIndex()).isZero();
    assertThat(media("x", null, 4).workerIndex()).isEqualTo(1);
    step(); // both running now
    // worker 0 carries 20 tokens, worker 1 4: least-loaded would pick 1, affinity keeps 0 (16 <=
    // 20)
    assertThat(media("a2", "vid-A", 8).workerIndex()).isZero();
    // now 28 vs 4: 24 > 20, overloaded: go to worker 1, which becomes vid-A's worker
    assertThat(media("a3", "vid-A", 8).workerIndex()).isEqualTo(1);
    assertThat(media("a4", "vid-A", 2).workerIndex()).isEqualTo(1);
    runUntilIdle(50);
  }

  @Test
  void affinityNeverLeavesAnotherWorkerIdleWhileItsWorkerHasAQueue() {
    startManual(2, 512, b -> b.affinitySlackTokens(1_000_000));
    assertThat(media("a1", "vid-A", 20).workerIndex()).isZero();
    // worker 0 has queued work, worker 1 is idle: the huge slack does not matter
    assertThat(media("a2", "vid-A", 20).workerIndex()).isEqualTo(1);
    step();
    // both busy now: affinity to the most recent worker (1)
    assertThat(media("a3", "vid-A", 20).workerIndex()).isEqualTo(1);
    runUntilIdle(50);
  }

  @Test
  void unhealthyWorkerIsSkippedWhileAnotherIsHealthy() {
    startManual(2, 512, b -> b.maxConsecutiveFailures(1));
    executors.get(0).failWhen = p -> true;
    media("a1", "vid-A", 8);
    step();
    assertThat(scheduler.isWorkerHealthy(0)).isFalse();
    assertThat(scheduler.isReady()).isTrue();
    assertThat(media("a2", "vid-A", 8).workerIndex()).isEqualTo(1);
    assertThat(media("b", null, 8).workerIndex()).isEqualTo(1);
    runUntilIdle(50);
    assertThat(sinks.get(0).error()).isInstanceOf(InternalSchedulerException.class);
    assertThat(sinks.get(1).reason()).isEqualTo(FinishReason.LENGTH);
  }

  @Test
  void encodeFollowsTheMediaOrThePreferredWorker() throws Exception {
    startManual(2, 512, b -> {});
    media("x", null, 30); // worker 0 busy
    CompletableFuture<MediaFeatures> f1 = scheduler.encode(new FakeMedia("vid-A", 16));
    assertThat(media("a1", "vid-A", 4).workerIndex()).isEqualTo(1); // follows the encode
    CompletableFuture<MediaFeatures> f2 =
        scheduler.encode(new FakeMedia("vid-B", 16), OptionalInt.of(0));
    runUntilIdle(50);
    assertThat(f1.get().mediaKey()).isEqualTo("vid-A");
    assertThat(f2.get().tokenCount()).isEqualTo(16);
    assertThat(executors.get(0).events).contains("encode:vid-B").doesNotContain("encode:vid-A");
    assertThat(executors.get(1).events).contains("encode:vid-A");
  }
}

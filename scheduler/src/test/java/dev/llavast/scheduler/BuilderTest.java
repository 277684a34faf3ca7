package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Pool sizing, eager validation, KV usage in the statistics. */
class BuilderTest {

  @Test
  void poolIsSizedFromTheReportedFreeMemory() {
    // 0.5 x 100,000 bytes / (100 bytes per token x 4 tokens per block) = 125 blocks
    FakeExecutor e = new FakeExecutor(new ExecutorSpec("gpu:0", 512, 100, 100_000));
    try (Scheduler s =
        Scheduler.builder()
            .addExecutor(e)
            .blockSize(4)
            .kvMemoryFraction(0.5)
            .manualStepping()
            .build()) {
      assertThat(s.stats().workers().get(0).totalBlocks()).isEqualTo(125);
      assertThat(s.stats().workers().get(0).device()).isEqualTo("gpu:0");
    }
    assertThat(e.closes.get()).isEqualTo(1);
  }

  @Test
  void unknownFreeMemoryNeedsAnExplicitBlockCount() {
    FakeExecutor e = new FakeExecutor(512);
    assertThatThrownBy(() -> Scheduler.builder().addExecutor(e).manualStepping().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("device fake:0 cannot report free memory; configure kvBlocks(n) explicitly");
  }

  @Test
  void settersNameTheBadValue() {
    assertThatThrownBy(() -> Scheduler.builder().maxBatchTokens(0))
        .hasMessage("maxBatchTokens must be > 0, got 0");
    assertThatThrownBy(() -> Scheduler.builder().kvMemoryFraction(1.5))
        .hasMessage("kvMemoryFraction must be in (0, 1], got 1.5");
    assertThatThrownBy(() -> Scheduler.builder().retryAfter(Duration.ofSeconds(-1)))
        .hasMessageContaining("retryAfter must be >= 0");
    assertThatThrownBy(() -> Scheduler.builder().build())
        .hasMessage("at least one executor is required, got none");
  }

  @Test
  void statisticsReportQueueRunningAndKvUsage() {
    FakeExecutor e = new FakeExecutor(512);
    try (Scheduler s =
        Scheduler.builder()
            .addExecutor(e)
            .blockSize(4)
            .kvBlocks(64)
            .maxRunningSequences(1)
            .manualStepping()
            .build()) {
      SchedulerImpl impl = (SchedulerImpl) s;
      RecordingSink a = new RecordingSink("a");
      RecordingSink b = new RecordingSink("b");
      s.submit(
          GenerationRequest.of(
              "a", PromptInput.ofTokens(SchedulerTestBase.ids(1, 16)), SamplingParams.greedy(8)),
          a);
      s.submit(
          GenerationRequest.of(
              "b", PromptInput.ofTokens(SchedulerTestBase.ids(2, 8)), SamplingParams.greedy(8)),
          b);
      assertThat(s.stats().queuedRequests()).isEqualTo(2);
      assertThat(s.stats().queuedPromptTokens()).isEqualTo(24);
      impl.worker(0).runOnce();
      SchedulerStats st = s.stats();
      assertThat(st.queuedRequests()).isEqualTo(1);
      assertThat(st.running()).isEqualTo(1);
      assertThat(st.waiting()).isEqualTo(1);
      // a: 16 prompt positions in 4 blocks of 64
      assertThat(st.workers().get(0).usedBlocks()).isEqualTo(4);
      assertThat(st.workers().get(0).kvUsageRatio()).isEqualTo(4 / 64.0);
      assertThat(st.workers().get(0).stepsTotal()).isEqualTo(1);
      assertThat(s.isReady()).isTrue();
      s.shutdown(Duration.ofSeconds(5));
      assertThat(a.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(b.reason()).isEqualTo(FinishReason.LENGTH);
      assertThat(s.stats().workers().get(0).usedBlocks()).isZero();
      assertThat(s.stats().workers().get(0).cachedBlocks()).isPositive();
    }
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** Encode jobs run between steps under their budget. */
class EncodeTest extends SchedulerTestBase {

  @Test
  void atMostOneEncodePerIterationSoRunningStreamsKeepStepping() {
    startManual(1, 512, b -> b.encodesPerIteration(1));
    RecordingSink a = sink("a");
    submit("a", text(1, 4), 10, a);
    step();
    executors.get(0).events.clear();
    CompletableFuture<MediaFeatures> e1 = scheduler.encode(new FakeMedia("v1", 8));
    CompletableFuture<MediaFeatures> e2 = scheduler.encode(new FakeMedia("v2", 8));
    CompletableFuture<MediaFeatures> e3 = scheduler.encode(new FakeMedia("v3", 8));
    step();
    step();
    step();
    assertThat(executors.get(0).events)
        .containsExactly("encode:v1", "step", "encode:v2", "step", "encode:v3", "step");
    assertThat(List.of(e1, e2, e3)).allSatisfy(f -> assertThat(f).isCompleted());
    runUntilIdle(20);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 4), SamplingParams.greedy(10)));
  }

  @Test
  void encodeBudgetOfTwoRunsTwoPerIteration() {
    startManual(1, 512, b -> b.encodesPerIteration(2));
    scheduler.encode(new FakeMedia("v1", 8));
    scheduler.encode(new FakeMedia("v2", 8));
    scheduler.encode(new FakeMedia("v3", 8));
    step();
    assertThat(executors.get(0).encodes.get()).isEqualTo(2);
    step();
    assertThat(executors.get(0).encodes.get()).isEqualTo(3);
  }

  @Test
  void failedEncodeFailsOnlyItsFuture() {
    startManual(1, 512, b -> {});
    executors.get(0).failEncodeWhen = m -> m.mediaKey().equals("bad");
    CompletableFuture<MediaFeatures> bad = scheduler.encode(new FakeMedia("bad", 8));
    CompletableFuture<MediaFeatures> good = scheduler.encode(new FakeMedia("good", 8));
    runUntilIdle(10);
    assertThat(bad).isCompletedExceptionally();
    assertThatThrownBy(bad::get)
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(ExecutorException.class)
        .hasMessageContaining("bad");
    assertThat(good).isCompleted();
    assertThat(scheduler.isWorkerHealthy(0)).isTrue();
  }

  @Test
  void encodeCancelledBeforeItStartsIsSkipped() {
    startManual(1, 512, b -> {});
    CompletableFuture<MediaFeatures> f = scheduler.encode(new FakeMedia("v", 8));
    f.cancel(false);
    runUntilIdle(10);
    assertThat(executors.get(0).encodes.get()).isZero();
  }
}

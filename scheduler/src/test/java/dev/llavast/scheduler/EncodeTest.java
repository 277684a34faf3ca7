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

  @Test
  void aSlicedEncodeAlternatesWithTheStepsOfRunningSequences() {
    startManual(1, 512, b -> {});
    executors.get(0).encodeSlices = 3;
    RecordingSink a = sink("a");
    submit("a", text(1, 4), 10, a);
    step();
    executors.get(0).events.clear();
    CompletableFuture<MediaFeatures> f = scheduler.encode(new FakeMedia("v1", 8));
    step();
    step();
    assertThat(f).isNotDone();
    step();
    assertThat(f).isCompleted();
    assertThat(executors.get(0).events)
        .containsExactly(
            "slice:v1:0", "step", "slice:v1:1", "step", "slice:v1:2", "encode:v1", "step");
    assertThat(executors.get(0).encodeTasksOpen.get()).isZero();
    runUntilIdle(20);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 4), SamplingParams.greedy(10)));
  }

  @Test
  void slicesLongerThanAStepRunOnCreditEveryFewSteps() {
    // 3 ms steps, 5 ms slices: each step earns 1 ms of encode time, so a slice runs, then the
    // steps repay it; the encode takes a quarter of the worker, not the 5/8 one slice a step would
    startManual(1, 512, b -> {});
    FakeExecutor ex = executors.get(0);
    ex.encodeSlices = 3;
    ex.onStep = () -> ticker.advance(java.time.Duration.ofMillis(3));
    ex.onSlice = () -> ticker.advance(java.time.Duration.ofMillis(5));
    RecordingSink a = sink("a");
    submit("a", text(1, 4), 40, a);
    step();
    ex.events.clear();
    CompletableFuture<MediaFeatures> f = scheduler.encode(new FakeMedia("v1", 8));
    for (int i = 0; i < 12 && !f.isDone(); i++) {
      step();
    }
    assertThat(f).isCompleted();
    // credit at each iteration: 1 -> slice (-4), then -3 -2 -1 skipped, 0 -> slice (-5), then
    // -4 .. -1 skipped, 0 -> the last slice
    assertThat(ex.events)
        .containsExactly(
            "slice:v1:0",
            "step",
            "step",
            "step",
            "step",
            "slice:v1:1",
            "step",
            "step",
            "step",
            "step",
            "step",
            "slice:v1:2",
            "encode:v1",
            "step");
    runUntilIdle(60);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 4), SamplingParams.greedy(40)));
  }

  @Test
  void withNothingRunningASlicedEncodeRunsToTheEndInOneIteration() {
    startManual(1, 512, b -> {});
    executors.get(0).encodeSlices = 4;
    CompletableFuture<MediaFeatures> f = scheduler.encode(new FakeMedia("v1", 8));
    step();
    assertThat(f).isCompleted();
    assertThat(executors.get(0).events)
        .containsExactly("slice:v1:0", "slice:v1:1", "slice:v1:2", "slice:v1:3", "encode:v1");
  }

  @Test
  void anEncodeEveryCallerGaveUpOnStopsBetweenSlicesAndReleasesItsTask() {
    startManual(1, 512, b -> {});
    executors.get(0).encodeSlices = 5;
    submit("a", text(1, 4), 50, sink("a"));
    step();
    CompletableFuture<MediaFeatures> f = scheduler.encode(new FakeMedia("v1", 8));
    step();
    assertThat(executors.get(0).encodeTasksOpen.get()).isEqualTo(1);
    f.cancel(false);
    step();
    step();
    assertThat(executors.get(0).encodeTasksOpen.get()).isZero();
    assertThat(executors.get(0).encodes.get()).isZero();
    assertThat(executors.get(0).events).containsOnlyOnce("slice:v1:0").doesNotContain("slice:v1:1");
    runUntilIdle(100);
  }

  @Test
  void shutdownDuringASlicedEncodeFailsItsFutureAndReleasesItsTask() throws Exception {
    startManual(1, 512, b -> {});
    executors.get(0).encodeSlices = 5;
    submit("a", text(1, 4), 50, sink("a"));
    step();
    CompletableFuture<MediaFeatures> f = scheduler.encode(new FakeMedia("v1", 8));
    step();
    shutDownByTest = true;
    assertThat(scheduler.shutdown(java.time.Duration.ZERO)).isFalse();
    assertThatThrownBy(() -> f.get(5, java.util.concurrent.TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(SchedulerUnavailableException.class);
    assertThat(executors.get(0).encodeTasksOpen.get()).isZero();
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.scheduler.FakeExecutor.StepRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Budget, chunking, decode-first order, priorities, stop conditions, timings (manual stepping). */
class BatchingTest extends SchedulerTestBase {

  private static long sid(RequestHandle h) {
    return ((Sequence) h).id;
  }

  @Test
  void longPromptIsPrefilledInBudgetSizedChunksThenDecoded() {
    startManual(1, 512, b -> b.maxBatchTokens(16));
    PromptInput p = text(1, 40);
    RecordingSink s = sink("a");
    long id = sid(submit("a", p, 3, s));
    runUntilIdle(20);
    assertThat(executors.get(0).plans)
        .containsExactly(
            List.of(new StepRecord(id, 0, 16, false, true)),
            List.of(new StepRecord(id, 16, 16, false, true)),
            List.of(new StepRecord(id, 32, 8, true, true)),
            List.of(new StepRecord(id, 40, 1, true, false)),
            List.of(new StepRecord(id, 41, 1, true, false)));
    assertThat(s.tokens()).isEqualTo(FakeExecutor.expected(p, SamplingParams.greedy(3))).hasSize(3);
    assertThat(s.reason()).isEqualTo(FinishReason.LENGTH);
    assertThat(s.usage().promptTokens()).isEqualTo(40);
    assertThat(s.usage().generatedTokens()).isEqualTo(3);
  }

  @Test
  void runningDecodesGoFirstAndKeepFlowingWhileANewPromptPrefills() {
    startManual(1, 512, b -> b.maxBatchTokens(16));
    PromptInput pa = text(1, 4);
    PromptInput pb = text(2, 40);
    RecordingSink sa = sink("a");
    RecordingSink sb = sink("b");
    long a = sid(submit("a", pa, 10, sa));
    step(); // a: prefill 4, first token
    assertThat(sa.tokens()).hasSize(1);
    long b = sid(submit("b", pb, 2, sb));
    step();
    assertThat(lastPlan(0))
        .containsExactly(
            new StepRecord(a, 4, 1, true, false), new StepRecord(b, 0, 15, false, true));
    step();
    assertThat(lastPlan(0))
        .containsExactly(
            new StepRecord(a, 5, 1, true, false), new StepRecord(b, 15, 15, false, true));
    step();
    assertThat(lastPlan(0))
        .containsExactly(
            new StepRecord(a, 6, 1, true, false), new StepRecord(b, 30, 10, true, true));
    step();
    assertThat(lastPlan(0))
        .containsExactly(
            new StepRecord(a, 7, 1, true, false), new StepRecord(b, 40, 1, true, false));
    assertThat(sa.tokens()).hasSize(5);
    runUntilIdle(20);
    for (List<StepRecord> plan : executors.get(0).plans) {
      int firstPrefill = plan.size();
      for (int i = 0; i < plan.size(); i++) {
        if (plan.get(i).prefill()) {
          firstPrefill = Math.min(firstPrefill, i);
        } else {
          assertThat(i).as("decode after a prefill in %s", plan).isLessThan(firstPrefill);
        }
      }
      assertThat(plan.stream().mapToInt(StepRecord::length).sum()).isLessThanOrEqualTo(16);
    }
    assertThat(sa.tokens()).isEqualTo(FakeExecutor.expected(pa, SamplingParams.greedy(10)));
    assertThat(sb.tokens()).isEqualTo(FakeExecutor.expected(pb, SamplingParams.greedy(2)));
  }

  @Test
  void budgetSmallerThanTheRunningSetDefersTheLastDecodes() {
    startManual(1, 512, b -> b.maxBatchTokens(2));
    List<RecordingSink> ss = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      RecordingSink s = sink("s" + i);
      ss.add(s);
      submit("s" + i, text(10 + i, 2), 4, s);
    }
    runUntilIdle(50);
    for (List<StepRecord> plan : executors.get(0).plans) {
      assertThat(plan.stream().mapToInt(StepRecord::length).sum()).isLessThanOrEqualTo(2);
    }
    for (int i = 0; i < 3; i++) {
      assertThat(ss.get(i).tokens())
          .isEqualTo(FakeExecutor.expected(text(10 + i, 2), SamplingParams.greedy(4)));
    }
  }

  @Test
  void admissionFollowsPriorityThenArrival() {
    startManual(1, 512, b -> b.maxRunningSequences(1));
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    String[] names = {"low", "high1", "mid", "high2"};
    int[] prio = {0, 5, 1, 5};
    for (int i = 0; i < names.length; i++) {
      String n = names[i];
      RecordingSink s =
          new RecordingSink(n) {
            @Override
            public synchronized void onStart(int promptTokens, int cachedTokens) {
              super.onStart(promptTokens, cachedTokens);
              order.add(n);
            }
          };
      sinks.add(s);
      scheduler.submit(
          GenerationRequest.of(n, text(i, 4), SamplingParams.greedy(2)).withPriority(prio[i]), s);
    }
    runUntilIdle(50);
    assertThat(order).containsExactly("high1", "high2", "mid", "low");
    // one running sequence at a time
    assertThat(executors.get(0).plans).allSatisfy(p -> assertThat(p).hasSize(1));
  }

  @Test
  void stopTokenIsNotEmittedButCounted() {
    startManual(1, 512, b -> {});
    PromptInput p = text(3, 6);
    List<Integer> free = FakeExecutor.expected(p, SamplingParams.greedy(10));
    int stop = free.get(3);
    assertThat(free.subList(0, 3)).doesNotContain(stop);
    RecordingSink s = sink("a");
    submit("a", p, SamplingParams.greedy(10, stop), s);
    runUntilIdle(20);
    assertThat(s.tokens()).isEqualTo(free.subList(0, 3));
    assertThat(s.reason()).isEqualTo(FinishReason.STOP_TOKEN);
    assertThat(s.usage().generatedTokens()).isEqualTo(4);
  }

  @Test
  void sinkCanStopGeneration() {
    startManual(1, 512, b -> {});
    RecordingSink s = sink("a");
    s.stopAfter = 2;
    submit("a", text(4, 6), 10, s);
    runUntilIdle(20);
    assertThat(s.tokens()).hasSize(2);
    assertThat(s.reason()).isEqualTo(FinishReason.STOPPED_BY_SINK);
    assertThat(s.usage().generatedTokens()).isEqualTo(2);
  }

  @Test
  void sinkThatThrowsFailsOnlyItsRequest() {
    startManual(1, 512, b -> {});
    RecordingSink bad = sink("bad");
    bad.throwOnToken = true;
    RecordingSink good = sink("good");
    submit("bad", text(5, 6), 5, bad);
    submit("good", text(6, 6), 5, good);
    runUntilIdle(20);
    assertThat(bad.error())
        .isInstanceOf(InternalSchedulerException.class)
        .hasMessageContaining("onToken");
    assertThat(good.tokens())
        .isEqualTo(FakeExecutor.expected(text(6, 6), SamplingParams.greedy(5)));
  }

  @Test
  void usageTimesComeFromTheInjectedClock() {
    List<SchedulerListener.StepEvent> events = Collections.synchronizedList(new ArrayList<>());
    startManual(
        1,
        512,
        b ->
            b.maxBatchTokens(4)
                .listener(
                    new SchedulerListener() {
                      @Override
                      public void onStep(StepEvent e) {
                        events.add(e);
                      }
                    }));
    executors.get(0).onStep = () -> ticker.advance(Duration.ofMillis(1));
    RecordingSink s = sink("a");
    submit("a", text(7, 8), 3, s);
    ticker.advance(Duration.ofMillis(5));
    runUntilIdle(20);
    // queued 5 ms; two 4-token prefill steps of 1 ms; two more decode steps of 1 ms.
    assertThat(s.usage()).isEqualTo(new Usage(8, 0, 3, 5_000_000L, 2_000_000L, 2_000_000L, 0));
    assertThat(events)
        .extracting(SchedulerListener.StepEvent::scheduledTokens)
        .containsExactly(4, 4, 1, 1);
    assertThat(events)
        .extracting(SchedulerListener.StepEvent::decodeSequences)
        .containsExactly(0, 0, 1, 1);
    assertThat(events).extracting(SchedulerListener.StepEvent::stepNanos).containsOnly(1_000_000L);
    assertThat(events).extracting(SchedulerListener.StepEvent::batchSize).containsOnly(1);
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.scheduler.FakeExecutor.StepRecord;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A pool too small for all running sequences: preempt, recompute, same tokens. */
class PreemptionTest extends SchedulerTestBase {

  private final List<SchedulerListener.StepEvent> events =
      Collections.synchronizedList(new ArrayList<>());

  private void start() {
    // 10 blocks of 4 = 40 slots; each request needs up to 8 + 16 - 1 = 23 slots (6 blocks).
    startManual(
        1,
        512,
        b ->
            b.kvBlocks(10)
                .listener(
                    new SchedulerListener() {
                      @Override
                      public void onStep(StepEvent e) {
                        events.add(e);
                      }
                    }));
  }

  @Test
  void latestAdmittedIsPreemptedAndRecomputesTheSameTokens() {
    start();
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    RecordingSink c = sink("c");
    RequestHandle ha = submit("a", text(1, 8), 16, a);
    RequestHandle hb = submit("b", text(2, 8), 16, b);
    RequestHandle hc = submit("c", text(3, 8), 16, c);
    // Admitted a, b, c (2 blocks each), then each decode takes a 3rd block (1 left); at position 12
    // a and b take the last two blocks and c, the most recently admitted, is preempted.
    int steps = 0;
    while (scheduler.stats().preemptionsTotal() == 0) {
      step();
      steps++;
      assertThat(steps).isLessThan(20);
    }
    assertThat(hc.status()).isEqualTo(RequestStatus.WAITING);
    assertThat(ha.status()).isEqualTo(RequestStatus.DECODING);
    assertThat(hb.status()).isEqualTo(RequestStatus.DECODING);
    assertThat(c.tokens()).hasSize(5); // tokens at positions 8..12 were delivered before
    runUntilIdle(200);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 8), SamplingParams.greedy(16)));
    assertThat(b.tokens()).isEqualTo(FakeExecutor.expected(text(2, 8), SamplingParams.greedy(16)));
    assertThat(c.tokens()).isEqualTo(FakeExecutor.expected(text(3, 8), SamplingParams.greedy(16)));
    assertThat(a.usage().preemptions()).isZero();
    assertThat(c.usage().preemptions()).isGreaterThanOrEqualTo(1);
    long total = a.usage().preemptions() + b.usage().preemptions() + c.usage().preemptions();
    assertThat(scheduler.stats().preemptionsTotal()).isEqualTo(total);
    assertNoAdmissionInPreemptingSteps();
  }

  @Test
  void higherPriorityIsPreemptedLast() {
    start();
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    RecordingSink c = sink("c");
    RequestHandle ha = submit("a", text(1, 8), 16, a);
    RequestHandle hb = submit("b", text(2, 8), 16, b);
    RequestHandle hc =
        scheduler.submit(
            GenerationRequest.of("c", text(3, 8), SamplingParams.greedy(16)).withPriority(5), c);
    while (scheduler.stats().preemptionsTotal() == 0) {
      step();
    }
    assertThat(hb.status()).isEqualTo(RequestStatus.WAITING);
    assertThat(ha.status()).isEqualTo(RequestStatus.DECODING);
    assertThat(hc.status()).isEqualTo(RequestStatus.DECODING);
    runUntilIdle(200);
    assertThat(c.usage().preemptions()).isZero();
    assertThat(b.usage().preemptions()).isGreaterThanOrEqualTo(1);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 8), SamplingParams.greedy(16)));
    assertThat(b.tokens()).isEqualTo(FakeExecutor.expected(text(2, 8), SamplingParams.greedy(16)));
    assertThat(c.tokens()).isEqualTo(FakeExecutor.expected(text(3, 8), SamplingParams.greedy(16)));
    assertNoAdmissionInPreemptingSteps();
  }

  @Test
  void recomputeReusesItsOwnCachedBlocksWhenTheyWereNotEvicted() {
    // 7 blocks: a alone needs up to 6. b is preempted and a's growth evicts only what it needs.
    startManual(1, 512, b -> b.kvBlocks(7));
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    submit("a", text(1, 8), 16, a);
    submit("b", text(2, 8), 16, b);
    runUntilIdle(200);
    assertThat(b.usage().preemptions()).isGreaterThanOrEqualTo(1);
    assertThat(scheduler.stats().workers().get(0).prefixHitTokensTotal()).isPositive();
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 8), SamplingParams.greedy(16)));
    assertThat(b.tokens()).isEqualTo(FakeExecutor.expected(text(2, 8), SamplingParams.greedy(16)));
  }

  @Test
  void noAdmissionInAStepThatPreempted() {
    startManual(1, 512, b -> b.kvBlocks(6));
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    RecordingSink w = sink("w");
    RequestHandle ha = submit("a", text(1, 4), 20, a);
    RequestHandle hb = submit("b", text(2, 16), 8, b);
    step(); // a holds 1 block, b 4: one free
    RequestHandle hw =
        scheduler.submit(
            GenerationRequest.of("w", text(3, 4), SamplingParams.greedy(2)).withPriority(1), w);
    step(); // a's decode takes the last free block; b's needs one more: b preempts itself
    assertThat(hb.status()).isEqualTo(RequestStatus.WAITING);
    assertThat(scheduler.worker(0).blockManager().available())
        .isEqualTo(4); // b's blocks, now cached
    assertThat(hw.status())
        .as("w fits now but must wait one step")
        .isEqualTo(RequestStatus.WAITING);
    step();
    assertThat(hw.status()).isEqualTo(RequestStatus.DECODING);
    assertThat(ha.status()).isEqualTo(RequestStatus.DECODING);
    runUntilIdle(200);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(1, 4), SamplingParams.greedy(20)));
    assertThat(b.tokens()).isEqualTo(FakeExecutor.expected(text(2, 16), SamplingParams.greedy(8)));
    assertThat(w.tokens()).isEqualTo(FakeExecutor.expected(text(3, 4), SamplingParams.greedy(2)));
  }

  private void assertNoAdmissionInPreemptingSteps() {
    List<List<StepRecord>> plans = executors.get(0).plans;
    assertThat(events).hasSameSizeAs(plans);
    Set<Long> seenBefore = new HashSet<>();
    int checked = 0;
    for (int i = 0; i < plans.size(); i++) {
      if (events.get(i).preemptions() > 0) {
        Set<Long> prev = new HashSet<>();
        plans.get(i - 1).forEach(r -> prev.add(r.sequenceId()));
        for (StepRecord r : plans.get(i)) {
          assertThat(prev).as("step %d preempted and must not admit", i).contains(r.sequenceId());
          assertThat(r.start()).isPositive();
        }
        checked++;
      }
      plans.get(i).forEach(r -> seenBefore.add(r.sequenceId()));
    }
    assertThat(checked).isPositive();
  }
}

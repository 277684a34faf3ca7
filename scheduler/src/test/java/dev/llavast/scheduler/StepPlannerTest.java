package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The step planner alone: no threads, no executor, no clock. Each test builds sequences, plans, and
 * plays the executor's part by handing {@link StepPlanner#update} the token ids.
 */
class StepPlannerTest {
  private static final int BLOCK = 4;

  private QueueAccounting.WaitingLoad load;
  private KvCacheManager kv;
  private StepPlanner planner;
  private long ids;

  private void planner(int blocks, int maxBatchTokens, int maxRunning) {
    load = new QueueAccounting.WaitingLoad();
    kv = new KvCacheManager(blocks, BLOCK);
    planner =
        new StepPlanner(kv, new SchedulingPolicy(maxBatchTokens, maxRunning, 1, 3), 1024, load);
  }

  /** A sequence with a ready prompt of {@code promptTokens} distinct ids, queued in the planner. */
  private Sequence waiting(String name, int promptTokens, int maxNew, int priority) {
    int[] tokens = new int[promptTokens];
    for (int i = 0; i < promptTokens; i++) {
      tokens[i] = 1 + (int) ((ids * 131 + i) % 900);
    }
    return queued(name, tokens, maxNew, priority);
  }

  /** A sequence with the ready prompt {@code tokens}, queued in the planner. */
  private Sequence queued(String name, int[] tokens, int maxNew, int priority) {
    long id = ++ids;
    PromptInput prompt = PromptInput.ofTokens(tokens);
    GenerationRequest r =
        GenerationRequest.of(
            name, prompt, null, SamplingParams.greedy(maxNew), priority, Duration.ofMinutes(1));
    Sequence s = new Sequence(id, r, new RecordingSink(name), id, 0, 0, () -> {});
    s.setPrompt(prompt);
    planner.enqueue(s);
    return s;
  }

  /** Plans, then completes the step as a successful executor would (token 7 for every sample). */
  private StepPlanner.Plan step() {
    StepPlanner.Plan plan = planner.schedule(0);
    int samples = (int) plan.batch().stream().filter(s -> s.planSample).count();
    int[] tokens = new int[samples];
    Arrays.fill(tokens, 7);
    planner.update(plan, tokens, 0);
    return plan;
  }

  private static int[] runs(StepPlanner.Plan plan) {
    return plan.runs();
  }

  private void end(Sequence s) {
    s.done = true;
    planner.release(s);
  }

  @Test
  void aLongPromptIsPrefilledInChunksOfTheBudget() {
    planner(64, 16, 8);
    Sequence a = waiting("a", 40, 4, 0);
    StepPlanner.Plan p1 = planner.schedule(0);
    assertThat(runs(p1)).containsExactly(16);
    assertThat(a.planSample).isFalse();
    planner.update(p1, new int[0], 0);
    assertThat(a.numComputed).isEqualTo(16);
    assertThat(kv.blockTable(a)).hasSize(4);
    StepPlanner.Plan p2 = planner.schedule(0);
    assertThat(runs(p2)).containsExactly(16);
    planner.update(p2, new int[0], 0);
    StepPlanner.Plan p3 = planner.schedule(0);
    assertThat(runs(p3)).containsExactly(8);
    assertThat(a.planSample).isTrue();
  }

  @Test
  void theLastChunkSamplesAndDecodesThenTakeOneTokenEach() {
    planner(64, 16, 8);
    Sequence a = waiting("a", 20, 4, 0);
    assertThat(runs(step())).containsExactly(16);
    StepPlanner.Plan last = step();
    assertThat(runs(last)).containsExactly(4);
    assertThat(last.batch().get(0).planSample).isTrue();
    assertThat(a.length).isEqualTo(21);
    assertThat(a.isDecoding()).isTrue();
    assertThat(runs(step())).containsExactly(1);
    assertThat(a.generatedCount()).isEqualTo(2);
  }

  @Test
  void decodesComeFirstAndAPrefillTakesOnlyWhatTheBudgetLeaves() {
    planner(64, 10, 8);
    Sequence a = waiting("a", 8, 8, 0);
    Sequence b = waiting("b", 8, 8, 0);
    step(); // a: 8, b: 2
    step(); // a decodes (1), b continues its prefill (6)
    Sequence c = waiting("c", 30, 8, 0);
    StepPlanner.Plan p = step();
    assertThat(p.batch()).containsExactly(a, b, c);
    assertThat(runs(p)).containsExactly(1, 1, 8); // two decodes first, c gets the 8 left of 10
    assertThat(Arrays.stream(p.runs()).sum()).isLessThanOrEqualTo(10);
  }

  @Test
  void higherPriorityIsAdmittedFirstThenArrivalOrder() {
    planner(64, 8, 8);
    Sequence low = waiting("low", 8, 4, 0);
    Sequence high = waiting("high", 8, 4, 5);
    Sequence low2 = waiting("low2", 8, 4, 0);
    assertThat(step().batch()).containsExactly(high);
    assertThat(step().batch()).containsExactly(high, low);
    StepPlanner.Plan p = planner.schedule(0);
    assertThat(p.batch()).containsExactly(high, low, low2);
    assertThat(runs(p)).containsExactly(1, 1, 6);
  }

  @Test
  void theRunningLimitHoldsAdmissionsBack() {
    planner(64, 64, 2);
    waiting("a", 4, 4, 0);
    waiting("b", 4, 4, 0);
    Sequence c = waiting("c", 4, 4, 0);
    StepPlanner.Plan p = step();
    assertThat(p.batch()).hasSize(2).doesNotContain(c);
    assertThat(p.firstAdmitted()).hasSize(2);
    assertThat(planner.waitingCount()).isEqualTo(1);
    assertThat(c.status()).isEqualTo(RequestStatus.WAITING);
  }

  @Test
  void theHeadOfTheQueueWaitsForMemoryAndNothingOvertakesIt() {
    planner(4, 64, 8);
    Sequence a = waiting("a", 8, 8, 0); // 2 blocks
    step();
    Sequence big = waiting("big", 12, 4, 0); // needs 3 blocks, 2 left
    Sequence small = waiting("small", 4, 4, 0); // would fit
    StepPlanner.Plan p = planner.schedule(0);
    assertThat(p.batch()).containsExactly(a);
    assertThat(big.status()).isEqualTo(RequestStatus.WAITING);
    assertThat(small.status()).isEqualTo(RequestStatus.WAITING);
  }

  @Test
  void whenMemoryRunsOutTheLatestAdmittedOfTheLowestPriorityIsPreempted() {
    planner(6, 64, 8);
    Sequence a = waiting("a", 8, 20, 1);
    Sequence b = waiting("b", 7, 20, 0);
    Sequence c = waiting("c", 7, 20, 0);
    step(); // a: 2 blocks, b: 2 blocks, c: 2 blocks; all sampled their first token
    assertThat(kv.available()).isZero();
    // a needs a 3rd block for position 8; the pool is empty: c (priority 0, admitted last) goes.
    StepPlanner.Plan p = planner.schedule(0);
    assertThat(p.preemptions()).isEqualTo(1);
    assertThat(c.status()).isEqualTo(RequestStatus.WAITING);
    assertThat(c.preemptions).isEqualTo(1);
    assertThat(c.numComputed).isZero();
    assertThat(kv.blockTable(c)).isEmpty();
    assertThat(p.batch()).containsExactly(a, b);
    assertThat(p.firstAdmitted()).isEmpty(); // no admission in a step that preempted
    assertThat(load.get())
        .isEqualTo(c.length); // the preempted sequence waits with its whole length
    assertThat(planner.preemptionsTotal()).isEqualTo(1);
  }

  @Test
  void aSequenceThatMustGrowWhenItIsTheOnlyVictimPreemptsItself() {
    planner(2, 64, 8);
    Sequence a = waiting("a", 8, 4, 0); // exactly 2 blocks
    step();
    assertThat(a.isDecoding()).isTrue();
    StepPlanner.Plan p = planner.schedule(0);
    assertThat(p.preemptions()).isEqualTo(1);
    assertThat(p.batch()).isEmpty();
    assertThat(a.status()).isEqualTo(RequestStatus.WAITING);
  }

  @Test
  void aCachedPrefixIsReusedAtAdmissionAndCounted() {
    planner(16, 64, 8);
    Sequence a = waiting("a", 10, 2, 0);
    step();
    end(a); // its two full blocks stay cached
    Sequence b = queued("b", a.prompt().tokenIds(), 2, 0);
    StepPlanner.Plan p = planner.schedule(0);
    assertThat(p.batch()).containsExactly(b);
    assertThat(b.cachedTokens).isEqualTo(8);
    assertThat(runs(p)).containsExactly(2);
    assertThat(planner.prefixHitTokensTotal()).isEqualTo(8);
    assertThat(planner.prefixQueryTokensTotal()).isEqualTo(20);
  }

  /** A 24-token prompt prefix (six blocks) that several questions share. */
  private static int[] videoPrefix() {
    return java.util.stream.IntStream.range(100, 124).toArray();
  }

  /** A queued sequence whose prompt is {@code shared} followed by {@code tail}. */
  private Sequence sharing(String name, int[] shared, int... tail) {
    int[] tokens = Arrays.copyOf(shared, shared.length + tail.length);
    System.arraycopy(tail, 0, tokens, shared.length, tail.length);
    return queued(name, tokens, 2, 0);
  }

  @Test
  void questionsArrivingTogetherOnOnePrefixPrefillItOnce() {
    // budget 16 < the 24-token shared prefix: a is prefilled in chunks; b and c, queued with it,
    // wait until the blocks they share with a are cached instead of computing them again
    planner(64, 16, 8);
    int[] video = videoPrefix();
    Sequence a = sharing("a", video, 1, 2);
    Sequence b = sharing("b", video, 3, 4, 5);
    Sequence c = sharing("c", video, 6);
    Sequence other = waiting("other", 6, 2, 0); // behind them in arrival order
    StepPlanner.Plan p1 = step();
    assertThat(p1.batch()).containsExactly(a);
    assertThat(runs(p1)).containsExactly(16);
    StepPlanner.Plan p2 = step();
    assertThat(p2.batch())
        .as("a's last chunk computes prefix blocks 4..5: b waits (and, in order, so do the rest)")
        .containsExactly(a);
    assertThat(runs(p2)).containsExactly(10);
    StepPlanner.Plan p3 = step();
    assertThat(p3.batch()).containsExactly(a, b, c, other);
    assertThat(b.cachedTokens).as("the whole shared prefix: 6 blocks").isEqualTo(24);
    assertThat(c.cachedTokens).isEqualTo(24);
    assertThat(runs(p3)).containsExactly(1, 3, 1, 6);
    assertThat(planner.prefixHitTokensTotal()).isEqualTo(48);
  }

  @Test
  void aPrefixPrefilledByNobodyRunningDoesNotHoldTheQueue() {
    planner(64, 16, 8);
    int[] video = videoPrefix();
    Sequence a = waiting("a", 20, 2, 0); // another prompt, prefilled in two chunks
    Sequence b = sharing("b", video, 3);
    StepPlanner.Plan p1 = step();
    assertThat(p1.batch()).containsExactly(a);
    StepPlanner.Plan p2 = step();
    assertThat(p2.batch()).as("nothing b needs is in flight").containsExactly(a, b);
    assertThat(b.cachedTokens).isZero();
  }

  @Test
  void limitsEndASequenceAtTheStopTokenTheTokenLimitAndTheContext() {
    planner(64, 64, 8);
    Sequence a = waiting("a", 4, 2, 0);
    step();
    assertThat(planner.limitReached(a)).isNull();
    step();
    assertThat(planner.limitReached(a)).isEqualTo(FinishReason.LENGTH);

    planner = new StepPlanner(kv, new SchedulingPolicy(64, 8, 1, 3), 6, load);
    Sequence b = waiting("b", 4, 10, 0);
    step();
    assertThat(planner.limitReached(b)).isNull();
    step();
    assertThat(b.length).isEqualTo(6);
    assertThat(planner.limitReached(b)).isEqualTo(FinishReason.CONTEXT_LIMIT);

    PromptInput prompt = PromptInput.ofTokens(new int[] {3, 4, 5});
    Sequence c =
        new Sequence(
            50,
            GenerationRequest.of("c", prompt, SamplingParams.greedy(10, 7)),
            new RecordingSink("c"),
            50,
            0,
            0,
            () -> {});
    c.setPrompt(prompt);
    planner.enqueue(c);
    step(); // the stand-in executor samples 7, the stop token
    assertThat(planner.limitReached(c)).isEqualTo(FinishReason.STOP_TOKEN);
  }

  @Test
  void releasedSequencesFreeTheirBlocksAndLeaveTheRunningListAtTheNextPlan() {
    planner(8, 64, 8);
    Sequence a = waiting("a", 8, 8, 0);
    Sequence b = waiting("b", 8, 8, 0);
    step();
    end(a);
    assertThat(kv.usedBlocks()).isEqualTo(2);
    StepPlanner.Plan p = planner.schedule(0);
    assertThat(p.batch()).containsExactly(b);
    assertThat(planner.runningCount()).isEqualTo(1);
    end(b);
    planner.sweep();
    assertThat(planner.hasWork()).isFalse();
    assertThat(kv.usedBlocks()).isZero();
    assertThat(load.get()).isZero();
    kv.pool().checkIdle();
  }
}

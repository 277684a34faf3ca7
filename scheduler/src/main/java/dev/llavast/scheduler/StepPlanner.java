package dev.llavast.scheduler;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Decides what one worker computes next, with no threads, clocks or callbacks in it: the queues of
 * waiting and running sequences, the token budget, preemption and admission. {@link #schedule}
 * turns the queues into a {@link Plan}; {@link #update} applies the executor's result to them. The
 * worker makes every sink call and ends sequences through {@link #release}.
 *
 * <p>Planning rules: decodes of running sequences first (priority, then admission order), then the
 * next chunk of each unfinished prefill, then admissions from the waiting queue (priority, then
 * arrival; strictly in order, the head waits for memory and nothing overtakes it), none in a step
 * that preempted. A head whose next uncached prompt block a running sequence is still prefilling
 * waits for it to be cached (one prefill per shared prefix, however many questions arrive at once).
 * When a running sequence needs a block and none is available, the last running sequence (lowest
 * priority, latest admitted) is preempted: its blocks are freed and it waits again for a full
 * recompute.
 *
 * <p>Not thread-safe: confined to the worker thread (or a test thread).
 */
final class StepPlanner {
  private static final Comparator<Sequence> WAITING_ORDER =
      Comparator.<Sequence>comparingInt(s -> -s.priority).thenComparingLong(s -> s.arrival);

  private final KvCacheManager kv;
  private final SchedulingPolicy policy;
  private final int maxContext;
  private final QueueAccounting.WaitingLoad load;
  private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(WAITING_ORDER);

  /** Sorted by priority (high first), then admission order: the last one is the next victim. */
  private final ArrayList<Sequence> running = new ArrayList<>();

  private final ArrayList<Sequence> batch = new ArrayList<>();
  private final ArrayList<Sequence> firstAdmitted = new ArrayList<>();
  private final ArrayList<Sequence> sampled = new ArrayList<>();
  private int budget;
  private int stepPreemptions;
  private long admitCounter;
  private boolean anyReleased;
  private long preemptionsTotal;
  private long prefixQueryTokensTotal;
  private long prefixHitTokensTotal;

  StepPlanner(
      KvCacheManager kv,
      SchedulingPolicy policy,
      int maxContext,
      QueueAccounting.WaitingLoad load) {
    this.kv = kv;
    this.policy = policy;
    this.maxContext = maxContext;
    this.load = load;
  }

  /**
   * One step's decision. Each sequence of {@code batch} carries its run in {@code planRun} / {@code
   * planSample} until {@link #update} or {@link #fail}.
   *
   * @param batch the sequences to compute, decodes first, then prefill chunks in order
   * @param runs the positions each sequence of {@code batch} computes, as planned
   * @param firstAdmitted sequences of the batch admitted for the first time (their {@code onStart}
   *     is due)
   * @param preemptions sequences preempted while planning
   */
  record Plan(List<Sequence> batch, int[] runs, List<Sequence> firstAdmitted, int preemptions) {}

  /** A sequence whose prompt is known joins the waiting queue (and counts its length as load). */
  void enqueue(Sequence s) {
    s.setStatus(RequestStatus.WAITING);
    load.set(s, s.length);
    waiting.add(s);
  }

  /** Plans the next step under the policy's budget. */
  Plan schedule(long now) {
    sweep();
    batch.clear();
    firstAdmitted.clear();
    budget = policy.maxBatchTokens();
    stepPreemptions = 0;
    for (int i = 0; i < running.size() && budget > 0; i++) {
      Sequence s = running.get(i);
      if (s.planRun == 0 && s.isDecoding() && reserve(s, s.numComputed + 1)) {
        add(s, 1);
      }
    }
    for (int i = 0; i < running.size() && budget > 0; i++) {
      Sequence s = running.get(i);
      if (s.planRun > 0 || s.isDecoding()) {
        continue;
      }
      int want = Math.min(s.length - s.numComputed, budget);
      int canHold = kv.capacity(s) - s.numComputed;
      if (canHold <= 0) {
        if (!reserve(s, s.numComputed + 1)) {
          continue; // s itself was preempted (it was the last one)
        }
        canHold = kv.capacity(s) - s.numComputed;
      }
      int run = Math.min(want, canHold);
      kv.grow(s, s.numComputed + run);
      add(s, run);
    }
    if (stepPreemptions == 0) {
      admit(now);
    }
    int[] runs = new int[batch.size()];
    for (int i = 0; i < runs.length; i++) {
      runs[i] = batch.get(i).planRun;
    }
    return new Plan(List.copyOf(batch), runs, List.copyOf(firstAdmitted), stepPreemptions);
  }

  /**
   * Applies a successful step: every live sequence of the plan has its run computed (full blocks
   * enter the prefix cache) and each sampling one gets {@code tokenIds[i]} appended, in order. A
   * sample that failed on its own ({@link StepResult#failed}) gets nothing appended and caches no
   * block (its K/V may be as broken as its logits); the caller ends it.
   *
   * @param tokenIds one id per sampling sequence of the plan that has not ended, in batch order
   * @return the sequences that sampled, in the order of {@code tokenIds} (valid until the next
   *     call)
   */
  List<Sequence> update(Plan plan, int[] tokenIds, long now) {
    return update(plan, new StepResult(tokenIds, null), now);
  }

  /** As {@link #update(Plan, int[], long)}, skipping the samples that failed. */
  List<Sequence> update(Plan plan, StepResult result, long now) {
    sampled.clear();
    for (Sequence s : plan.batch()) {
      if (s.done) {
        continue;
      }
      if (s.planSample && result.failed(sampled.size())) {
        s.planRun = 0;
        sampled.add(s);
        continue;
      }
      s.numComputed += s.planRun;
      s.planRun = 0;
      kv.cacheFullBlocks(s);
      if (s.planSample) {
        s.appendToken(result.tokenIds()[sampled.size()]);
        if (s.firstTokenNanos < 0) {
          s.firstTokenNanos = now;
        }
        s.setStatus(RequestStatus.DECODING);
        sampled.add(s);
      }
    }
    return sampled;
  }

  /**
   * A failed step computed nothing: the plan's runs are forgotten (the worker ends the sequences).
   */
  void fail(Plan plan) {
    for (Sequence s : plan.batch()) {
      s.planRun = 0;
    }
  }

  /**
   * The limit that ends {@code s} now that its last token is appended, or null: the stop token,
   * then the token limit, then the context limit. (A sink may end it earlier.)
   */
  @Nullable FinishReason limitReached(Sequence s) {
    if (s.sampling.isStopToken(s.tokens[s.length - 1])) {
      return FinishReason.STOP_TOKEN;
    }
    if (s.generatedCount() >= s.sampling.maxNewTokens()) {
      return FinishReason.LENGTH;
    }
    return s.length >= maxContext ? FinishReason.CONTEXT_LIMIT : null;
  }

  /**
   * {@code s} ended: frees its blocks and its waiting load and drops it from this step. The caller
   * has marked it {@code done}; the running list forgets it at the next sweep. Idempotent.
   */
  void release(Sequence s) {
    kv.free(s);
    load.set(s, 0);
    s.planRun = 0;
    anyReleased = true;
  }

  /**
   * Removes every queued or running sequence that {@code test} selects (waiting ones at once,
   * running ones at the next sweep, once the caller has ended them) and returns them.
   */
  List<Sequence> select(Predicate<Sequence> test) {
    List<Sequence> out = null;
    for (Sequence s : waiting) {
      if (test.test(s)) {
        out = out == null ? new ArrayList<>() : out;
        out.add(s);
      }
    }
    if (out != null) {
      waiting.removeAll(out);
    }
    for (int i = 0, n = running.size(); i < n; i++) {
      Sequence s = running.get(i);
      if (test.test(s)) {
        out = out == null ? new ArrayList<>() : out;
        out.add(s);
      }
    }
    return out == null ? List.of() : out;
  }

  /** Empties every queue and returns what was in them (shutdown). */
  List<Sequence> drain() {
    List<Sequence> all = new ArrayList<>(waiting);
    all.addAll(running);
    waiting.clear();
    running.clear();
    batch.clear();
    anyReleased = false;
    return all;
  }

  /** Forgets the running sequences that ended since the last sweep. */
  void sweep() {
    if (anyReleased) {
      running.removeIf(s -> s.done);
      anyReleased = false;
    }
  }

  boolean hasWork() {
    return !waiting.isEmpty() || !running.isEmpty();
  }

  int waitingCount() {
    return waiting.size();
  }

  int runningCount() {
    return running.size();
  }

  /** Known tokens of the running sequences. */
  long runningTokens() {
    long t = 0;
    for (int i = 0, n = running.size(); i < n; i++) {
      t += running.get(i).length;
    }
    return t;
  }

  long preemptionsTotal() {
    return preemptionsTotal;
  }

  long prefixQueryTokensTotal() {
    return prefixQueryTokensTotal;
  }

  long prefixHitTokensTotal() {
    return prefixHitTokensTotal;
  }

  // ---------------------------------------------------------------------------------- internals

  private void add(Sequence s, int run) {
    s.planRun = run;
    s.planSample = s.numComputed + run == s.length;
    budget -= run;
    batch.add(s);
  }

  /**
   * Makes {@code s} hold blocks for {@code positions} slots, preempting from the end of the running
   * list while the pool is short.
   *
   * @return false if {@code s} itself had to be preempted
   */
  private boolean reserve(Sequence s, int positions) {
    while (kv.shortfall(s, positions) > 0) {
      Sequence victim = running.get(running.size() - 1);
      preempt(victim);
      if (victim == s) {
        return false;
      }
    }
    kv.grow(s, positions);
    return true;
  }

  private void preempt(Sequence v) {
    running.remove(running.size() - 1);
    if (v.planRun > 0) {
      batch.remove(v);
      budget += v.planRun;
      v.planRun = 0;
    }
    kv.free(v);
    v.numComputed = 0;
    v.preemptions++;
    stepPreemptions++;
    preemptionsTotal++;
    enqueue(v);
  }

  private void admit(long now) {
    while (budget > 0 && running.size() < policy.maxRunningSequences() && !waiting.isEmpty()) {
      Sequence s = waiting.peek();
      int hitTokens = kv.admitWithPrefix(s, running);
      if (hitTokens < 0) {
        break; // no room yet, or its next prefix block is being prefilled: reuse it once it is
      }
      waiting.poll();
      s.numComputed = hitTokens;
      prefixQueryTokensTotal += s.length;
      prefixHitTokensTotal += hitTokens;
      load.set(s, 0);
      int run = Math.min(s.length - hitTokens, budget);
      kv.grow(s, hitTokens + run);
      s.admitOrder = ++admitCounter;
      s.setStatus(s.isDecoding() ? RequestStatus.DECODING : RequestStatus.PREFILLING);
      if (!s.everAdmitted) {
        s.everAdmitted = true;
        s.cachedTokens = hitTokens;
        s.firstAdmitNanos = now;
        firstAdmitted.add(s);
      }
      insertRunning(s);
      add(s, run);
    }
  }

  private void insertRunning(Sequence s) {
    int i = running.size();
    while (i > 0 && running.get(i - 1).priority < s.priority) {
      i--;
    }
    running.add(i, s);
  }
}

package dev.llavast.scheduler;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one {@link ModelExecutor} (one device) with iteration-level batching.
 *
 * <p>Every iteration ({@link #runOnce()}): take new messages; drop cancelled and expired sequences
 * and free their blocks; plan under the token budget and the running limit (decodes first, then
 * continuing prefill chunks, then admissions by priority then arrival, none in a step that
 * preempted); run queued encode jobs under the encode budget; execute the step; deliver tokens and
 * apply stop conditions; free finished sequences.
 *
 * <p><b>Threading.</b> All state is confined to the worker thread except the inbox ({@link #post},
 * {@link #wakeUp}) and the {@code volatile} statistics and health fields, which any thread may use.
 */
final class Worker implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);
  private static final Object WAKE = new Object();
  private static final Comparator<Sequence> WAITING_ORDER =
      Comparator.<Sequence>comparingInt(s -> -s.priority).thenComparingLong(s -> s.arrival);

  final int index;
  final String device;
  final int maxContext;
  private final ModelExecutor executor;
  private final SchedulerImpl owner;
  private final BlockManager blocks;
  private final int blockSize;
  private final SchedulingPolicy policy;
  private final Ticker ticker;
  private final SchedulerListener listener;
  private final Executor callbackExecutor;
  private final long idlePollNanos;

  // ---- inbox: any thread ----
  private final LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
  private final AtomicBoolean wakeQueued = new AtomicBoolean();
  private final Object acceptLock = new Object();
  private boolean stopped; // guarded by acceptLock
  final AtomicLong waitingTokens = new AtomicLong();
  private final CountDownLatch terminated = new CountDownLatch(1);
  /** Completes once the KV pool is allocated (or fails with the allocation error). */
  final CompletableFuture<Void> started = new CompletableFuture<>();

  // ---- worker thread only ----
  private final List<Sequence> pending = new ArrayList<>();
  private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(WAITING_ORDER);
  /** Sorted by priority (high first), then admission order: the last one is the next victim. */
  private final ArrayList<Sequence> running = new ArrayList<>();
  private final ArrayDeque<EncodeJob> encodes = new ArrayDeque<>();
  private final ArrayList<Sequence> batch = new ArrayList<>();
  private final int[] hitBuffer;
  private long admitCounter;
  private int planBudget;
  private int stepPreemptions;
  private int consecutiveFailures;
  private boolean anyDone;
  private boolean lastStepFailed;

  // ---- shutdown flags: any thread ----
  volatile boolean draining;
  volatile boolean abort;

  // ---- statistics: written by the worker, read by anyone ----
  private volatile boolean healthy = true;
  private volatile boolean alive = true;
  private volatile int statWaiting;
  private volatile int statPending;
  private volatile int statRunning;
  private volatile int statUsed;
  private volatile int statCached;
  private volatile int statEncodes;
  private volatile long runningTokens;
  private volatile long preemptionsTotal;
  private volatile long prefixQueryTokensTotal;
  private volatile long prefixHitTokensTotal;
  private volatile long stepsTotal;
  private volatile long stepFailuresTotal;

  Worker(int index, ModelExecutor executor, SchedulerImpl owner, int numBlocks, int blockSize, SchedulingPolicy policy,
      Ticker ticker, SchedulerListener listener, Executor callbackExecutor, long idlePollNanos) {
    this.index = index;
    this.executor = executor;
    this.owner = owner;
    ExecutorSpec spec = executor.spec();
    this.device = spec.deviceName();
    this.maxContext = spec.maxContextTokens();
    this.blocks = new BlockManager(numBlocks, blockSize);
    this.blockSize = blockSize;
    this.policy = policy;
    this.ticker = ticker;
    this.listener = listener;
    this.callbackExecutor = callbackExecutor;
    this.idlePollNanos = idlePollNanos;
    this.hitBuffer = new int[numBlocks];
  }

  /** An encode request queued for this worker. */
  record EncodeJob(PreparedMedia media, CompletableFuture<MediaFeatures> future) {}

  /** The prompt future of a pending sequence completed. */
  private record PromptReady(Sequence seq, PromptInput prompt, Throwable error) {}

  // =====================================================================================
  // Any thread
  // =====================================================================================

  /** Queues a new sequence or encode job. Returns false if the worker has stopped. Any thread. */
  boolean post(Object message) {
    synchronized (acceptLock) {
      if (stopped) {
        return false;
      }
      inbox.add(message);
      return true;
    }
  }

  /** Called from the prompt future's completion; any thread. */
  void promptReady(Sequence s, PromptInput prompt, Throwable error) {
    post(new PromptReady(s, prompt, error));
  }

  /** Makes an idle worker iterate now (cancel, shutdown). Any thread. */
  void wakeUp() {
    if (wakeQueued.compareAndSet(false, true)) {
      inbox.add(WAKE);
    }
  }

  boolean isHealthy() {
    return healthy && alive;
  }

  boolean isAlive() {
    return alive;
  }

  /** Tokens queued plus tokens of running sequences: the dispatcher's load measure. Any thread. */
  long load() {
    return waitingTokens.get() + runningTokens;
  }

  int queuedCount() {
    return statWaiting + statPending;
  }

  boolean awaitTermination(long nanos) throws InterruptedException {
    return terminated.await(nanos, TimeUnit.NANOSECONDS);
  }

  int totalBlocks() {
    return blocks.numBlocks();
  }

  /** Whether a request of this size can ever run here. Any thread (immutable facts). */
  boolean fits(int promptTokens, int maxNewTokens) {
    return (long) promptTokens + maxNewTokens <= maxContext
        && blocks.blocksFor(promptTokens + maxNewTokens - 1) <= blocks.numBlocks();
  }

  SchedulerStats.WorkerStats stats() {
    return new SchedulerStats.WorkerStats(index, device, isHealthy(), statWaiting, statPending, statRunning,
        blocks.numBlocks(), statUsed, statCached, statEncodes, preemptionsTotal, prefixQueryTokensTotal,
        prefixHitTokensTotal, stepsTotal, stepFailuresTotal);
  }

  // =====================================================================================
  // Worker thread
  // =====================================================================================

  /** Allocates the executor's KV pool. Worker thread (or the building thread in manual mode). */
  void start() {
    try {
      executor.allocateKvCache(blocks.numBlocks(), blockSize);
      started.complete(null);
    } catch (RuntimeException e) {
      started.completeExceptionally(e);
      throw e;
    }
  }

  @Override
  public void run() {
    SchedulerException endReason = null;
    try {
      start();
      while (true) {
        if (abort) {
          break;
        }
        boolean worked = runOnce();
        if (draining && !hasWork()) {
          break;
        }
        if (!worked && !abort) {
          idleWait();
        }
      }
    } catch (Throwable t) {
      log.error("worker {} ({}) loop failed; failing its requests and stopping", index, device, t);
      healthy = false;
      endReason = new InternalSchedulerException("worker " + index + " (" + device + ") failed: " + t, t);
    } finally {
      stop(endReason);
    }
  }

  /** Ends every request and job, stops accepting, closes the executor. Worker thread, once. */
  void stop(SchedulerException reason) {
    SchedulerException why = reason != null ? reason
        : new SchedulerUnavailableException("scheduler shut down before the request finished");
    try {
      synchronized (acceptLock) {
        stopped = true;
      }
      alive = false;
      drainInbox();
      abortAll(why);
      publish();
    } catch (Throwable t) {
      log.error("worker {} failed while stopping", index, t);
    } finally {
      try {
        executor.close();
      } catch (Throwable t) {
        log.warn("worker {}: executor close failed", index, t);
      }
      terminated.countDown();
    }
  }

  private void idleWait() {
    try {
      Object m = inbox.poll(idlePollNanos, TimeUnit.NANOSECONDS);
      if (m != null) {
        handle(m);
      }
    } catch (InterruptedException e) {
      // Shutdown is flag-based; an interrupt just ends the wait.
      Thread.interrupted();
    }
  }

  /** Whether anything is queued, pending, running or being encoded. Worker thread. */
  boolean hasWork() {
    return !pending.isEmpty() || !waiting.isEmpty() || !running.isEmpty() || !encodes.isEmpty()
        || inbox.stream().anyMatch(m -> m != WAKE);
  }

  /**
   * One iteration. Worker thread.
   *
   * @return whether anything was done (a step, an encode, a preemption); false means idle
   */
  boolean runOnce() {
    long t0 = ticker.read();
    drainInbox();
    long now = ticker.read();
    dropCancelledAndExpired(now);
    plan(now);
    long encodeNanos = runEncodes();
    boolean encoded = encodeNanos >= 0;
    if (batch.isEmpty()) {
      publish();
      return encoded || stepPreemptions > 0;
    }
    int batchSize = batch.size();
    int decodes = 0;
    int tokens = 0;
    for (int i = 0; i < batchSize; i++) {
      Sequence s = batch.get(i);
      tokens += s.planRun;
      if (s.isDecoding()) {
        decodes++;
      }
    }
    long stepNanos = execute();
    publish();
    long t1 = ticker.read();
    if (listener != SchedulerListener.NONE) {
      long book = (t1 - t0) - stepNanos - Math.max(0, encodeNanos);
      try {
        listener.onStep(new SchedulerListener.StepEvent(index, batchSize, decodes, tokens, stepPreemptions,
            stepNanos, Math.max(0, book), lastStepFailed));
      } catch (RuntimeException e) {
        log.warn("listener failed in onStep", e);
      }
    }
    return true;
  }

  private void drainInbox() {
    Object m;
    while ((m = inbox.poll()) != null) {
      handle(m);
    }
  }

  private void handle(Object m) {
    if (m == WAKE) {
      wakeQueued.set(false);
    } else if (m instanceof Sequence s) {
      pending.add(s);
    } else if (m instanceof PromptReady r) {
      onPromptReady(r);
    } else if (m instanceof EncodeJob j) {
      encodes.add(j);
    } else {
      throw new IllegalStateException("unknown worker message " + m);
    }
  }

  private void onPromptReady(PromptReady r) {
    Sequence s = r.seq();
    if (s.done || s.status() != RequestStatus.PENDING_PROMPT) {
      return; // already ended (cancelled, expired): the shared future is simply ignored
    }
    long now = ticker.read();
    pending.remove(s);
    if (r.error() != null) {
      Throwable cause = r.error() instanceof CompletionException && r.error().getCause() != null
          ? r.error().getCause() : r.error();
      end(s, new PromptFailedException("prompt of request " + s.requestId() + " failed: " + cause, cause), null, now);
      return;
    }
    PromptInput p = r.prompt();
    if (p == null) {
      end(s, new PromptFailedException("prompt of request " + s.requestId() + " completed with null", null), null,
          now);
      return;
    }
    int maxNew = s.sampling.maxNewTokens();
    if (p.length() == 0 || !fits(p.length(), maxNew)) {
      end(s, new InvalidRequestException("request " + s.requestId() + ": prompt of " + p.length()
          + " tokens + maxNewTokens " + maxNew + " does not fit worker " + index + " (context limit " + maxContext
          + " tokens, KV pool " + blocks.numBlocks() + " blocks of " + blockSize + ")"), null, now);
      return;
    }
    s.setPrompt(p);
    if (s.reservedTokens != p.length()) {
      owner.adjustReservation(s, p.length());
      waitingTokens.addAndGet(p.length() - s.waitingLoad);
      s.waitingLoad = p.length();
    }
    s.setStatus(RequestStatus.WAITING);
    waiting.add(s);
  }

  private void dropCancelledAndExpired(long now) {
    for (int i = pending.size() - 1; i >= 0; i--) {
      Sequence s = pending.get(i);
      SchedulerException e = dropReason(s, now);
      if (e != null) {
        pending.remove(i);
        end(s, e, null, now);
      }
    }
    boolean dropWaiting = false;
    for (Sequence s : waiting) {
      if (dropReason(s, now) != null) {
        dropWaiting = true;
        break;
      }
    }
    if (dropWaiting) {
      List<Sequence> dropped = new ArrayList<>();
      waiting.removeIf(s -> {
        boolean d = dropReason(s, now) != null;
        if (d) {
          dropped.add(s);
        }
        return d;
      });
      for (Sequence s : dropped) {
        end(s, dropReason(s, now), null, now);
      }
    }
    for (int i = 0, n = running.size(); i < n; i++) {
      Sequence s = running.get(i);
      SchedulerException e = dropReason(s, now);
      if (e != null) {
        end(s, e, null, now);
      }
    }
    removeDoneFromRunning();
  }

  private SchedulerException dropReason(Sequence s, long now) {
    if (s.cancelRequested()) {
      return new RequestCancelledException("request " + s.requestId() + " was cancelled in state " + s.status());
    }
    if (now >= s.deadlineNanos) {
      return new DeadlineExceededException("request " + s.requestId() + " exceeded its deadline of "
          + s.request.timeout() + " in state " + s.status());
    }
    return null;
  }

  // ---------------------------------------------------------------------------------- planning

  private void plan(long now) {
    batch.clear();
    planBudget = policy.maxBatchTokens();
    stepPreemptions = 0;
    // 1. decodes of running sequences, in priority then admission order.
    for (int i = 0; i < running.size() && planBudget > 0; i++) {
      Sequence s = running.get(i);
      if (s.planRun > 0 || !s.isDecoding()) {
        continue;
      }
      if (!reserve(s, s.numComputed + 1)) {
        continue; // s itself was preempted (it was the last one)
      }
      schedule(s, 1);
    }
    // 2. continuing chunked prefills (and recomputes).
    for (int i = 0; i < running.size() && planBudget > 0; i++) {
      Sequence s = running.get(i);
      if (s.planRun > 0 || s.isDecoding()) {
        continue;
      }
      int want = Math.min(s.length - s.numComputed, planBudget);
      int canHold = (s.numBlocks + blocks.available()) * blockSize - s.numComputed;
      if (canHold <= 0) {
        if (!reserve(s, s.numComputed + 1)) {
          continue;
        }
        canHold = (s.numBlocks + blocks.available()) * blockSize - s.numComputed;
      }
      int run = Math.min(want, canHold);
      if (!reserve(s, s.numComputed + run)) {
        throw new IllegalStateException("reserved " + run + " positions that were available but allocation failed");
      }
      schedule(s, run);
    }
    // 3. admissions, unless this step preempted.
    if (stepPreemptions == 0) {
      admit(now);
    }
  }

  private void schedule(Sequence s, int run) {
    s.planRun = run;
    s.planSample = s.numComputed + run == s.length;
    planBudget -= run;
    batch.add(s);
  }

  /**
   * Makes {@code s} hold blocks for {@code positions} slots, preempting from the end of the running
   * list while the pool is short.
   *
   * @return false if {@code s} itself had to be preempted
   */
  private boolean reserve(Sequence s, int positions) {
    int need = blocks.blocksFor(positions) - s.numBlocks;
    while (need > blocks.available()) {
      Sequence victim = running.get(running.size() - 1);
      preempt(victim);
      if (victim == s) {
        return false;
      }
    }
    for (; need > 0; need--) {
      s.addBlock(blocks.allocate());
    }
    return true;
  }

  private void preempt(Sequence v) {
    running.remove(running.size() - 1);
    if (v.planRun > 0) {
      batch.remove(v);
      planBudget += v.planRun;
      v.planRun = 0;
    }
    releaseBlocks(v);
    v.numComputed = 0;
    v.preemptions++;
    stepPreemptions++;
    preemptionsTotal++;
    v.setStatus(RequestStatus.WAITING);
    v.waitingLoad = v.length;
    waitingTokens.addAndGet(v.length);
    waiting.add(v);
    if (log.isDebugEnabled()) {
      log.debug("worker {} preempted {} ({} free blocks)", index, v, blocks.available());
    }
  }

  private void admit(long now) {
    while (planBudget > 0 && running.size() < policy.maxRunningSequences() && !waiting.isEmpty()) {
      Sequence s = waiting.peek();
      int maxHit = (s.length - 1) / blockSize; // always compute at least the last known token
      int hits = 0;
      int hitsEvictable = 0;
      while (hits < maxHit) {
        int b = blocks.lookup(s.hashOf(hits, blockSize));
        if (b == BlockManager.NONE) {
          break;
        }
        if (blocks.isEvictable(b)) {
          hitsEvictable++;
        }
        hitBuffer[hits++] = b;
      }
      int newBlocks = blocks.blocksFor(s.length) - hits;
      if (newBlocks > blocks.available() - hitsEvictable) {
        break; // strict order: the head waits for memory, nothing overtakes it
      }
      waiting.poll();
      for (int i = 0; i < hits; i++) {
        blocks.acquire(hitBuffer[i]);
        s.addBlock(hitBuffer[i]);
      }
      int hitTokens = hits * blockSize;
      s.numRegistered = hits;
      s.numComputed = hitTokens;
      prefixQueryTokensTotal += s.length;
      prefixHitTokensTotal += hitTokens;
      waitingTokens.addAndGet(-s.waitingLoad);
      s.waitingLoad = 0;
      int run = Math.min(s.length - hitTokens, planBudget);
      for (int need = blocks.blocksFor(hitTokens + run) - s.numBlocks; need > 0; need--) {
        s.addBlock(blocks.allocate());
      }
      s.admitOrder = ++admitCounter;
      s.setStatus(s.isDecoding() ? RequestStatus.DECODING : RequestStatus.PREFILLING);
      if (!s.everAdmitted) {
        s.everAdmitted = true;
        s.cachedTokens = hitTokens;
        s.firstAdmitNanos = now;
        owner.releaseSlot(s);
        try {
          s.sink.onStart(s.promptLength, hitTokens);
        } catch (RuntimeException e) {
          end(s, new InternalSchedulerException("sink of request " + s.requestId() + " threw from onStart", e), null,
              now);
          continue;
        }
      }
      insertRunning(s);
      schedule(s, run);
    }
  }

  private void insertRunning(Sequence s) {
    int i = running.size();
    while (i > 0 && running.get(i - 1).priority < s.priority) {
      i--;
    }
    running.add(i, s);
  }

  // ---------------------------------------------------------------------------------- encodes

  /** Runs up to the encode budget. Returns the nanoseconds spent, or -1 if nothing ran. */
  private long runEncodes() {
    long spent = -1;
    for (int n = 0; n < policy.encodesPerIteration(); ) {
      EncodeJob j = encodes.poll();
      if (j == null) {
        break;
      }
      if (j.future().isDone()) {
        continue; // the caller gave up before we started
      }
      n++;
      long t = ticker.read();
      boolean ok = false;
      try {
        MediaFeatures f = executor.encode(j.media());
        ok = true;
        completeLater(j.future(), f, null);
      } catch (RuntimeException e) {
        log.warn("worker {}: encode of {} failed", index, j.media().mediaKey(), e);
        completeLater(j.future(), null, e);
      }
      long d = ticker.read() - t;
      spent = Math.max(0, spent) + d;
      try {
        listener.onEncode(index, d, ok);
      } catch (RuntimeException e) {
        log.warn("listener failed in onEncode", e);
      }
    }
    return spent;
  }

  private void completeLater(CompletableFuture<MediaFeatures> f, MediaFeatures v, Throwable e) {
    Runnable r = () -> {
      if (e == null) {
        f.complete(v);
      } else {
        f.completeExceptionally(e);
      }
    };
    try {
      callbackExecutor.execute(r);
    } catch (RuntimeException rejected) {
      r.run();
    }
  }

  // ---------------------------------------------------------------------------------- execution

  /** Runs the planned batch; returns nanoseconds inside the executor. */
  private long execute() {
    int n = batch.size();
    List<SequenceStep> steps = new ArrayList<>(n);
    int samples = 0;
    for (int i = 0; i < n; i++) {
      Sequence s = batch.get(i);
      int start = s.numComputed;
      steps.add(new SequenceStep(s.id, s.prompt, Arrays.copyOfRange(s.tokens, start, start + s.planRun), start,
          Arrays.copyOf(s.blocks, s.numBlocks), s.planSample, s.sampling,
          Arrays.copyOfRange(s.tokens, s.promptLength, s.length)));
      if (s.planSample) {
        samples++;
      }
    }
    StepPlan plan = new StepPlan(blockSize, steps);
    long t = ticker.read();
    StepResult result = null;
    RuntimeException failure = null;
    try {
      result = executor.step(plan);
      if (result == null || result.tokenIds() == null || result.tokenIds().length != samples
          || (result.logprobs() != null && result.logprobs().length != samples)) {
        throw new ExecutorException("executor returned " + describe(result) + " for a step that samples " + samples
            + " sequences");
      }
    } catch (RuntimeException e) {
      failure = e;
    }
    long stepNanos = ticker.read() - t;
    long now = ticker.read();
    stepsTotal++;
    if (failure != null) {
      lastStepFailed = true;
      stepFailuresTotal++;
      consecutiveFailures++;
      if (consecutiveFailures >= policy.maxConsecutiveFailures()) {
        if (healthy) {
          log.error("worker {} ({}) unhealthy after {} consecutive step failures", index, device, consecutiveFailures);
        }
        healthy = false;
      }
      log.warn("worker {} ({}): step of {} sequences failed", index, device, n, failure);
      for (int i = 0; i < n; i++) {
        Sequence s = batch.get(i);
        s.planRun = 0;
        end(s, new InternalSchedulerException("model step failed on worker " + index + " (" + device + "): "
            + failure.getMessage(), failure), null, now);
      }
    } else {
      lastStepFailed = false;
      consecutiveFailures = 0;
      healthy = true;
      int[] ids = result.tokenIds();
      float[] lps = result.logprobs();
      int r = 0;
      for (int i = 0; i < n; i++) {
        Sequence s = batch.get(i);
        s.numComputed += s.planRun;
        s.planRun = 0;
        registerFullBlocks(s);
        if (s.planSample) {
          deliver(s, ids[r], lps == null ? Float.NaN : lps[r], now);
          r++;
        }
      }
    }
    batch.clear();
    removeDoneFromRunning();
    return stepNanos;
  }

  private static String describe(StepResult r) {
    if (r == null) {
      return "null";
    }
    return (r.tokenIds() == null ? "null" : r.tokenIds().length) + " token ids and "
        + (r.logprobs() == null ? "no" : String.valueOf(r.logprobs().length)) + " logprobs";
  }

  private void registerFullBlocks(Sequence s) {
    int full = s.numComputed / blockSize;
    while (s.numRegistered < full) {
      int i = s.numRegistered;
      blocks.register(s.blocks[i], s.hashOf(i, blockSize));
      s.numRegistered++;
    }
  }

  private void deliver(Sequence s, int token, float logprob, long now) {
    if (s.firstTokenNanos < 0) {
      s.firstTokenNanos = now;
    }
    s.appendToken(token);
    if (s.status() != RequestStatus.DECODING) {
      s.setStatus(RequestStatus.DECODING);
    }
    if (s.sampling.isStopToken(token)) {
      try {
        s.sink.onStopToken(token, logprob);
      } catch (RuntimeException e) {
        end(s, new InternalSchedulerException("sink of request " + s.requestId() + " threw from onStopToken", e),
            null, now);
        return;
      }
      end(s, null, FinishReason.STOP_TOKEN, now);
      return;
    }
    boolean more;
    try {
      more = s.sink.onToken(token, logprob);
    } catch (RuntimeException e) {
      end(s, new InternalSchedulerException("sink of request " + s.requestId() + " threw from onToken", e), null, now);
      return;
    }
    if (!more) {
      end(s, null, FinishReason.STOPPED_BY_SINK, now);
    } else if (s.generatedCount() >= s.sampling.maxNewTokens()) {
      end(s, null, FinishReason.LENGTH, now);
    } else if (s.length >= maxContext) {
      end(s, null, FinishReason.CONTEXT_LIMIT, now);
    }
  }

  // ---------------------------------------------------------------------------------- endings

  /**
   * Ends a sequence once: frees its blocks and queue slot, makes its one terminal callback. The
   * caller removes it from {@code pending}/{@code waiting}; {@code running} is swept by
   * {@link #removeDoneFromRunning()}.
   */
  private void end(Sequence s, SchedulerException error, FinishReason reason, long now) {
    if (s.done) {
      return;
    }
    s.done = true;
    anyDone = true;
    s.endNanos = now;
    releaseBlocks(s);
    owner.releaseSlot(s);
    if (s.waitingLoad != 0) {
      waitingTokens.addAndGet(-s.waitingLoad);
      s.waitingLoad = 0;
    }
    owner.onEnded(s);
    Usage usage = s.usage(now);
    if (error == null) {
      s.setStatus(RequestStatus.FINISHED);
      try {
        s.sink.onFinish(reason, usage);
      } catch (RuntimeException e) {
        log.warn("sink of request {} threw from onFinish", s.requestId(), e);
      }
    } else {
      s.setStatus(RequestStatus.FAILED);
      try {
        s.sink.onError(error, usage);
      } catch (RuntimeException e) {
        log.warn("sink of request {} threw from onError", s.requestId(), e);
      }
    }
  }

  /** Releases in reverse so that, once cached, a prefix's tail is evicted before its head. */
  private void releaseBlocks(Sequence s) {
    for (int i = s.numBlocks - 1; i >= 0; i--) {
      blocks.release(s.blocks[i]);
    }
    s.numBlocks = 0;
    s.numRegistered = 0;
  }

  private void removeDoneFromRunning() {
    if (anyDone) {
      running.removeIf(s -> s.done);
      anyDone = false;
    }
  }

  private void abortAll(SchedulerException why) {
    long now = ticker.read();
    for (Sequence s : pending) {
      end(s, why, null, now);
    }
    pending.clear();
    for (Sequence s : waiting) {
      end(s, why, null, now);
    }
    waiting.clear();
    for (Sequence s : running) {
      s.planRun = 0;
      end(s, why, null, now);
    }
    running.clear();
    batch.clear();
    anyDone = false;
    EncodeJob j;
    while ((j = encodes.poll()) != null) {
      completeLater(j.future(), null, why);
    }
  }

  private void publish() {
    statWaiting = waiting.size();
    statPending = pending.size();
    statRunning = running.size();
    statUsed = blocks.usedCount();
    statCached = blocks.cachedCount();
    statEncodes = encodes.size();
    long t = 0;
    for (int i = 0, n = running.size(); i < n; i++) {
      t += running.get(i).length;
    }
    runningTokens = t;
  }

  // ---------------------------------------------------------------------------------- tests

  /** For tests: the block manager (worker thread or a quiescent worker only). */
  BlockManager blockManager() {
    return blocks;
  }

  /** For tests: sequences still held anywhere in this worker. */
  int heldSequences() {
    return pending.size() + waiting.size() + running.size();
  }
}

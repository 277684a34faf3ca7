package dev.llavast.scheduler;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread around one {@link ModelExecutor} (one device): a typed inbox, the sequences waiting
 * for their prompt, encode jobs, the {@link StepPlanner}'s steps run on the executor, every sink
 * call, health, and one immutable statistics snapshot per iteration.
 *
 * <p>Every iteration ({@link #runOnce()}): take new messages; end cancelled and expired sequences;
 * plan; call {@code onStart} of the sequences admitted for the first time; run queued encode jobs
 * under the encode budget; execute the step; deliver tokens and apply stop conditions; publish
 * statistics.
 *
 * <p><b>Threading.</b> All state is confined to the worker thread except the inbox ({@link
 * #submit}, {@link #encode}, {@link #promptReady}, {@link #wakeUp}), the waiting load, the shutdown
 * flags and the published snapshot and health, which any thread may use.
 */
final class Worker implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  final int index;
  final String device;
  final int maxContext;
  private final ModelExecutor executor;
  private final KvCacheManager kv;
  private final StepPlanner planner;
  private final QueueAccounting queue;
  private final Consumer<Sequence> onEnded;
  private final SchedulingPolicy policy;
  private final Ticker ticker;
  private final SchedulerListener listener;
  private final Executor callbackExecutor;
  private final long idlePollNanos;

  // ---- inbox: any thread ----
  private final LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
  private final AtomicBoolean wakeQueued = new AtomicBoolean();
  private final Object acceptLock = new Object();
  private boolean stopped; // guarded by acceptLock

  /** Tokens of this worker's pending and waiting sequences: the dispatcher's queue measure. */
  final QueueAccounting.WaitingLoad waitingLoad = new QueueAccounting.WaitingLoad();

  private final CountDownLatch terminated = new CountDownLatch(1);

  /** Completes once the KV pool is allocated (or fails with the allocation error). */
  final CompletableFuture<Void> started = new CompletableFuture<>();

  // ---- worker thread only ----
  private final List<Sequence> pending = new ArrayList<>();
  private final ArrayDeque<EncodeJob> encodes = new ArrayDeque<>();
  private @Nullable RunningEncode current; // the encode advanced between steps, or null
  private long lastStepNanos;
  private int consecutiveFailures;
  private long stepsTotal;
  private long stepFailuresTotal;
  private boolean lastStepFailed;

  // ---- shutdown flags: any thread ----
  volatile boolean draining;
  volatile boolean abort;

  // ---- published by the worker, read by anyone ----
  private volatile boolean healthy = true;
  private volatile boolean alive = true;
  private volatile Snapshot snapshot;

  Worker(
      int index,
      ModelExecutor executor,
      QueueAccounting queue,
      Consumer<Sequence> onEnded,
      int numBlocks,
      int blockSize,
      SchedulingPolicy policy,
      Ticker ticker,
      SchedulerListener listener,
      Executor callbackExecutor,
      long idlePollNanos) {
    this.index = index;
    this.executor = executor;
    ExecutorSpec spec = executor.spec();
    this.device = spec.deviceName();
    this.maxContext = spec.maxContextTokens();
    this.kv = new KvCacheManager(numBlocks, blockSize, policy.prefixCaching());
    this.planner = new StepPlanner(kv, policy, maxContext, waitingLoad);
    this.queue = queue;
    this.onEnded = onEnded;
    this.policy = policy;
    this.ticker = ticker;
    this.listener = listener;
    this.callbackExecutor = callbackExecutor;
    this.idlePollNanos = idlePollNanos;
    publish();
  }

  /** What the worker thread is told; each kind applies itself. */
  private sealed interface Message permits NewSequence, PromptReady, EncodeJob, Wake {
    void applyTo(Worker w);
  }

  /** A submitted sequence, pending its prompt. */
  private record NewSequence(Sequence seq) implements Message {
    @Override
    public void applyTo(Worker w) {
      w.pending.add(seq);
    }
  }

  /** The prompt future of a pending sequence completed. */
  private record PromptReady(Sequence seq, @Nullable PromptInput prompt, @Nullable Throwable error)
      implements Message {
    @Override
    public void applyTo(Worker w) {
      w.onPromptReady(this);
    }
  }

  /** An encode request queued for this worker. */
  private record EncodeJob(PreparedMedia media, CompletableFuture<MediaFeatures> future)
      implements Message {
    @Override
    public void applyTo(Worker w) {
      w.encodes.add(this);
    }
  }

  /** Only makes an idle worker iterate. */
  private enum Wake implements Message {
    INSTANCE;

    @Override
    public void applyTo(Worker w) {
      w.wakeQueued.set(false);
    }
  }

  /**
   * What {@link #stats()} and {@link #load()} read: one immutable value per iteration.
   *
   * @param runningTokens known tokens of the running sequences
   */
  private record Snapshot(
      int waiting,
      int pending,
      int running,
      int usedBlocks,
      int cachedBlocks,
      int encodes,
      long runningTokens,
      long preemptionsTotal,
      long prefixQueryTokensTotal,
      long prefixHitTokensTotal,
      long stepsTotal,
      long stepFailuresTotal) {}

  // =====================================================================================
  // Any thread
  // =====================================================================================

  /**
   * Queues a sequence that waits for its prompt. Returns false if the worker has stopped. Any
   * thread.
   */
  boolean submit(Sequence s) {
    return post(new NewSequence(s));
  }

  /** Queues an encode job. Returns false if the worker has stopped. Any thread. */
  boolean encode(PreparedMedia media, CompletableFuture<MediaFeatures> future) {
    return post(new EncodeJob(media, future));
  }

  /** Called from the prompt future's completion; any thread. */
  void promptReady(Sequence s, @Nullable PromptInput prompt, @Nullable Throwable error) {
    post(new PromptReady(s, prompt, error));
  }

  private boolean post(Message message) {
    synchronized (acceptLock) {
      if (stopped) {
        return false;
      }
      inbox.add(message);
      return true;
    }
  }

  /** Makes an idle worker iterate now (cancel, shutdown). Any thread. */
  void wakeUp() {
    if (wakeQueued.compareAndSet(false, true)) {
      inbox.add(Wake.INSTANCE);
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
    return waitingLoad.get() + snapshot.runningTokens();
  }

  int queuedCount() {
    Snapshot s = snapshot;
    return s.waiting() + s.pending();
  }

  boolean awaitTermination(long nanos) throws InterruptedException {
    return terminated.await(nanos, TimeUnit.NANOSECONDS);
  }

  int totalBlocks() {
    return kv.numBlocks();
  }

  int blockSize() {
    return kv.blockSize();
  }

  /** Whether a request of this size can ever run here. Any thread (immutable facts). */
  boolean fits(int promptTokens, int maxNewTokens) {
    return (long) promptTokens + maxNewTokens <= maxContext
        && kv.canEverHold(promptTokens + maxNewTokens - 1);
  }

  SchedulerStats.WorkerStats stats() {
    Snapshot s = snapshot;
    return new SchedulerStats.WorkerStats(
        index,
        device,
        isHealthy(),
        s.waiting(),
        s.pending(),
        s.running(),
        kv.numBlocks(),
        s.usedBlocks(),
        s.cachedBlocks(),
        s.encodes(),
        s.preemptionsTotal(),
        s.prefixQueryTokensTotal(),
        s.prefixHitTokensTotal(),
        s.stepsTotal(),
        s.stepFailuresTotal());
  }

  // =====================================================================================
  // Worker thread
  // =====================================================================================

  /** Allocates the executor's KV pool. Worker thread (or the building thread in manual mode). */
  void start() {
    try {
      executor.allocateKvCache(kv.numBlocks(), kv.blockSize());
      started.complete(null);
    } catch (RuntimeException e) {
      started.completeExceptionally(e);
      throw e;
    }
  }

  @Override
  public void run() {
    @Nullable SchedulerException endReason = null;
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
      endReason =
          new InternalSchedulerException("worker " + index + " (" + device + ") failed: " + t, t);
    } finally {
      stop(endReason);
    }
  }

  /** Ends every request and job, stops accepting, closes the executor. Worker thread, once. */
  void stop(@Nullable SchedulerException reason) {
    SchedulerException why =
        reason != null
            ? reason
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
      Message m = inbox.poll(idlePollNanos, TimeUnit.NANOSECONDS);
      if (m != null) {
        m.applyTo(this);
      }
    } catch (InterruptedException e) {
      // Shutdown is flag-based; an interrupt just ends the wait.
      Thread.interrupted();
    }
  }

  /** Whether anything is queued, pending, running or being encoded. Worker thread. */
  boolean hasWork() {
    return !pending.isEmpty()
        || planner.hasWork()
        || !encodes.isEmpty()
        || current != null
        || inbox.stream().anyMatch(m -> m != Wake.INSTANCE);
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
    StepPlanner.Plan plan = planner.schedule(now);
    startAdmitted(plan, now);
    int batchSize = 0;
    int decodes = 0;
    int tokens = 0;
    for (Sequence s : plan.batch()) {
      if (!s.done) {
        batchSize++;
        tokens += s.planRun;
        decodes += s.isDecoding() ? 1 : 0;
      }
    }
    long encodeNanos = runEncodes(batchSize > 0);
    if (batchSize == 0) {
      publish();
      return encodeNanos >= 0 || plan.preemptions() > 0;
    }
    long stepNanos = execute(plan, batchSize);
    lastStepNanos = stepNanos;
    publish();
    long t1 = ticker.read();
    if (listener != SchedulerListener.NONE) {
      long book = (t1 - t0) - stepNanos - Math.max(0, encodeNanos);
      try {
        listener.onStep(
            new SchedulerListener.StepEvent(
                index,
                batchSize,
                decodes,
                tokens,
                plan.preemptions(),
                stepNanos,
                Math.max(0, book),
                lastStepFailed));
      } catch (RuntimeException e) {
        log.warn("listener failed in onStep", e);
      }
    }
    return true;
  }

  private void drainInbox() {
    Message m;
    while ((m = inbox.poll()) != null) {
      m.applyTo(this);
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
      Throwable cause =
          r.error() instanceof CompletionException && r.error().getCause() != null
              ? r.error().getCause()
              : r.error();
      end(
          s,
          new PromptFailedException(
              "prompt of request " + s.requestId() + " failed: " + cause, cause),
          null,
          now);
      return;
    }
    PromptInput p = r.prompt();
    if (p == null) {
      end(
          s,
          new PromptFailedException(
              "prompt of request " + s.requestId() + " completed with null", null),
          null,
          now);
      return;
    }
    int maxNew = s.sampling.maxNewTokens();
    if (p.length() == 0 || !fits(p.length(), maxNew)) {
      end(
          s,
          new InvalidRequestException(
              "request "
                  + s.requestId()
                  + ": prompt of "
                  + p.length()
                  + " tokens + maxNewTokens "
                  + maxNew
                  + " does not fit worker "
                  + index
                  + " (context limit "
                  + maxContext
                  + " tokens, KV pool "
                  + kv.numBlocks()
                  + " blocks of "
                  + kv.blockSize()
                  + ")"),
          null,
          now);
      return;
    }
    s.setPrompt(p);
    queue.adjust(s, p.length());
    planner.enqueue(s);
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
    for (Sequence s : planner.select(s -> dropReason(s, now) != null)) {
      end(s, dropReason(s, now), null, now);
    }
  }

  private @Nullable SchedulerException dropReason(Sequence s, long now) {
    if (s.cancelRequested()) {
      return new RequestCancelledException(
          "request " + s.requestId() + " was cancelled in state " + s.status());
    }
    if (now >= s.deadlineNanos) {
      return new DeadlineExceededException(
          "request "
              + s.requestId()
              + " exceeded its deadline of "
              + s.request.timeout()
              + " in state "
              + s.status());
    }
    return null;
  }

  /** Sequences admitted for the first time leave the queue and hear {@code onStart}. */
  private void startAdmitted(StepPlanner.Plan plan, long now) {
    for (Sequence s : plan.firstAdmitted()) {
      queue.release(s);
      try {
        s.sink.onStart(s.promptLength, s.cachedTokens);
      } catch (RuntimeException e) {
        end(
            s,
            new InternalSchedulerException(
                "sink of request " + s.requestId() + " threw from onStart", e),
            null,
            now);
      }
    }
  }

  // ---------------------------------------------------------------------------------- encodes

  /**
   * Encode time one iteration may take when no sequence is waiting for a step: short enough that a
   * request arriving during a long encode is admitted within about this long.
   */
  static final long IDLE_ENCODE_SLICE_NANOS = 200_000_000L;

  /**
   * Encode time earned per step while sequences run: that step's time divided by this, so encodes
   * take at most a quarter of the worker then. Steps also run slower between slices (on `SMALL`,
   * ~1.3x: the encode has evicted their data from the caches), so a half share measured 1.99x the
   * normal inter-token latency where the target is 2x; a third leaves room.
   */
  static final int ENCODE_SHARE_DIVISOR = 3;

  /**
   * Encode time this worker may still spend between steps, ns; negative while a slice longer than
   * what was earned is being paid back. Worker thread only.
   */
  private long encodeCredit;

  /**
   * Advances encodes slice by slice. With sequences in the step about to run, encodes run on
   * credit: each step earns its time over {@link #ENCODE_SHARE_DIVISOR} (at most one step's worth
   * is kept), slices run while the credit is not negative, and their time is taken off it, so a
   * slice longer than a step (one SigLIP layer against a tiny model's decode) runs every few steps
   * instead of after every one, and running streams keep their share of the worker while new media
   * are encoded. With none, up to {@link #IDLE_ENCODE_SLICE_NANOS}. At most {@code
   * encodesPerIteration} new jobs start per iteration.
   *
   * @return the nanoseconds spent, or -1 if nothing ran
   */
  private long runEncodes(boolean stepPending) {
    if (current == null && encodes.isEmpty()) {
      encodeCredit = 0; // nothing to encode: no credit is banked for later
      return -1;
    }
    long budget = IDLE_ENCODE_SLICE_NANOS;
    if (stepPending) {
      encodeCredit = Math.min(encodeCredit + lastStepNanos / ENCODE_SHARE_DIVISOR, lastStepNanos);
      if (encodeCredit < 0) {
        return -1;
      }
      budget = encodeCredit;
    }
    long spent = encodeSlices(budget);
    if (stepPending) {
      encodeCredit -= Math.max(0, spent);
    }
    return spent;
  }

  /** Runs encode slices until {@code budget} ns are spent (at least one slice); -1 if none ran. */
  private long encodeSlices(long budget) {
    long spent = -1;
    int started = 0;
    while (true) {
      if (current == null) {
        if (started >= policy.encodesPerIteration()) {
          break;
        }
        EncodeJob j = encodes.poll();
        if (j == null) {
          break;
        }
        if (j.future().isDone()) {
          continue; // the caller gave up before we started
        }
        started++;
        long t = ticker.read();
        try {
          current = new RunningEncode(j, executor.startEncode(j.media()));
        } catch (RuntimeException e) {
          log.warn("worker {}: encode of {} failed to start", index, j.media().mediaKey(), e);
          completeLater(j.future(), null, e);
          finishEncode(ticker.read() - t, false);
          spent = Math.max(0, spent) + ticker.read() - t;
          continue;
        }
        spent = Math.max(0, spent) + ticker.read() - t;
      } else if (current.job().future().isDone()) {
        current.task().close(); // every waiter gave up: stop spending time on it
        current = null;
        continue;
      }
      RunningEncode r = current;
      long t = ticker.read();
      MediaFeatures f = null;
      RuntimeException failure = null;
      try {
        f = r.task().advance();
      } catch (RuntimeException e) {
        failure = e;
      }
      long d = ticker.read() - t;
      r.nanos += d;
      spent = Math.max(0, spent) + d;
      if (failure != null || f != null) {
        current = null;
        closeQuietly(r.task());
        if (failure != null) {
          log.warn("worker {}: encode of {} failed", index, r.job().media().mediaKey(), failure);
        }
        completeLater(r.job().future(), f, failure);
        finishEncode(r.nanos, failure == null);
      }
      if (spent >= budget) {
        break;
      }
    }
    return spent;
  }

  /** An encode job with its task, between slices. */
  private static final class RunningEncode {
    private final EncodeJob job;
    private final EncodeTask task;
    long nanos;

    RunningEncode(EncodeJob job, EncodeTask task) {
      this.job = job;
      this.task = task;
    }

    EncodeJob job() {
      return job;
    }

    EncodeTask task() {
      return task;
    }
  }

  private void finishEncode(long nanos, boolean ok) {
    try {
      listener.onEncode(index, nanos, ok);
    } catch (RuntimeException e) {
      log.warn("listener failed in onEncode", e);
    }
  }

  private void closeQuietly(EncodeTask task) {
    try {
      task.close();
    } catch (RuntimeException e) {
      log.warn("worker {}: closing an encode task failed", index, e);
    }
  }

  private void completeLater(
      CompletableFuture<MediaFeatures> f, @Nullable MediaFeatures v, @Nullable Throwable e) {
    Runnable r =
        () -> {
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

  /**
   * Runs the plan's live sequences ({@code n} of them); returns nanoseconds inside the executor.
   */
  private long execute(StepPlanner.Plan plan, int n) {
    List<SequenceStep> steps = new ArrayList<>(n);
    int samples = 0;
    for (Sequence s : plan.batch()) {
      if (s.done) {
        continue;
      }
      int start = s.numComputed;
      steps.add(
          new SequenceStep(
              s.id,
              s.prompt(),
              Arrays.copyOfRange(s.tokens, start, start + s.planRun),
              start,
              kv.blockTable(s),
              s.planSample,
              s.sampling,
              Arrays.copyOfRange(s.tokens, s.promptLength, s.length)));
      samples += s.planSample ? 1 : 0;
    }
    long t = ticker.read();
    @Nullable StepResult result = null;
    RuntimeException failure = null;
    try {
      result = executor.step(new StepPlan(kv.blockSize(), steps));
      if (result == null
          || result.tokenIds() == null
          || result.tokenIds().length != samples
          || (result.logprobs() != null && result.logprobs().length != samples)
          || (result.failures() != null && result.failures().length != samples)) {
        throw new ExecutorException(
            "executor returned "
                + describe(result)
                + " for a step that samples "
                + samples
                + " sequences");
      }
    } catch (RuntimeException e) {
      failure = e;
    }
    long stepNanos = ticker.read() - t;
    long now = ticker.read();
    stepsTotal++;
    if (failure != null) {
      onStepFailure(plan, n, failure, now);
    } else {
      lastStepFailed = false;
      consecutiveFailures = 0;
      healthy = true;
      StepResult ok = Objects.requireNonNull(result, "checked above");
      List<Sequence> sampled = planner.update(plan, ok, now);
      float[] lps = ok.logprobs();
      for (int i = 0, m = sampled.size(); i < m; i++) {
        Sequence s = sampled.get(i);
        if (ok.failed(i)) {
          log.warn(
              "worker {} ({}): sample of request {} failed: {}",
              index,
              device,
              s.requestId(),
              ok.failure(i));
          end(
              s,
              new InternalSchedulerException(
                  "model step failed on worker "
                      + index
                      + " ("
                      + device
                      + ") for this sequence: "
                      + ok.failure(i),
                  null),
              null,
              now);
        } else {
          deliver(s, lps == null ? Float.NaN : lps[i], now);
        }
      }
    }
    planner.sweep();
    return stepNanos;
  }

  private void onStepFailure(StepPlanner.Plan plan, int n, RuntimeException failure, long now) {
    lastStepFailed = true;
    stepFailuresTotal++;
    consecutiveFailures++;
    if (consecutiveFailures >= policy.maxConsecutiveFailures()) {
      if (healthy) {
        log.error(
            "worker {} ({}) unhealthy after {} consecutive step failures",
            index,
            device,
            consecutiveFailures);
      }
      healthy = false;
    }
    log.warn("worker {} ({}): step of {} sequences failed", index, device, n, failure);
    planner.fail(plan);
    for (Sequence s : plan.batch()) {
      end(
          s,
          new InternalSchedulerException(
              "model step failed on worker " + index + " (" + device + "): " + failure.getMessage(),
              failure),
          null,
          now);
    }
  }

  private static String describe(@Nullable StepResult r) {
    if (r == null) {
      return "null";
    }
    return (r.tokenIds() == null ? "null" : r.tokenIds().length)
        + " token ids and "
        + (r.logprobs() == null ? "no" : String.valueOf(r.logprobs().length))
        + " logprobs";
  }

  /** Hands {@code s}'s new last token to its sink and ends it if a limit or the sink says so. */
  private void deliver(Sequence s, float logprob, long now) {
    int token = s.tokens[s.length - 1];
    FinishReason limit = planner.limitReached(s);
    String callback = limit == FinishReason.STOP_TOKEN ? "onStopToken" : "onToken";
    boolean more;
    try {
      if (limit == FinishReason.STOP_TOKEN) {
        s.sink.onStopToken(token, logprob);
        more = false;
      } else {
        more = s.sink.onToken(token, logprob);
      }
    } catch (RuntimeException e) {
      end(
          s,
          new InternalSchedulerException(
              "sink of request " + s.requestId() + " threw from " + callback, e),
          null,
          now);
      return;
    }
    if (limit == FinishReason.STOP_TOKEN || !more) {
      end(s, null, limit == FinishReason.STOP_TOKEN ? limit : FinishReason.STOPPED_BY_SINK, now);
    } else if (limit != null) {
      end(s, null, limit, now);
    }
  }

  // ---------------------------------------------------------------------------------- endings

  /**
   * Ends a sequence once: frees its blocks, waiting load and queue slot, makes its one terminal
   * callback. The caller removes it from {@code pending}; the planner forgets it at its next sweep.
   */
  private void end(
      Sequence s, @Nullable SchedulerException error, @Nullable FinishReason reason, long now) {
    if (s.done) {
      return;
    }
    s.done = true;
    s.endNanos = now;
    planner.release(s);
    queue.release(s);
    onEnded.accept(s);
    Usage usage = s.usage(now);
    if (error == null) {
      s.setStatus(RequestStatus.FINISHED);
      try {
        // Every caller passes a reason when it passes no error.
        s.sink.onFinish(Objects.requireNonNull(reason, "finish reason"), usage);
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

  private void abortAll(SchedulerException why) {
    long now = ticker.read();
    for (Sequence s : pending) {
      end(s, why, null, now);
    }
    pending.clear();
    for (Sequence s : planner.drain()) {
      end(s, why, null, now);
    }
    if (current != null) {
      closeQuietly(current.task());
      completeLater(current.job().future(), null, why);
      current = null;
    }
    EncodeJob j;
    while ((j = encodes.poll()) != null) {
      completeLater(j.future(), null, why);
    }
  }

  private void publish() {
    snapshot =
        new Snapshot(
            planner.waitingCount(),
            pending.size(),
            planner.runningCount(),
            kv.usedBlocks(),
            kv.cachedBlocks(),
            encodes.size() + (current == null ? 0 : 1),
            planner.runningTokens(),
            planner.preemptionsTotal(),
            planner.prefixQueryTokensTotal(),
            planner.prefixHitTokensTotal(),
            stepsTotal,
            stepFailuresTotal);
  }

  // ---------------------------------------------------------------------------------- tests

  /** For tests: the KV cache manager (worker thread or a quiescent worker only). */
  KvCacheManager kvCache() {
    return kv;
  }

  /** For tests: the block pool (worker thread or a quiescent worker only). */
  BlockManager blockManager() {
    return kv.pool();
  }

  /** For tests: sequences still held anywhere in this worker. */
  int heldSequences() {
    return pending.size() + planner.waitingCount() + planner.runningCount();
  }
}

package dev.llavast.scheduler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;

/**
 * Configures and starts a {@link Scheduler}. Every setter validates eagerly and names the bad
 * value. Not thread-safe; use from one thread, then call {@link #build()} once.
 */
public final class SchedulerBuilder {
  private final List<ModelExecutor> executors = new ArrayList<>();
  int blockSize = 16;
  int kvBlocks = -1;
  double kvMemoryFraction = 0.9;
  int maxBatchTokens = 2048;
  int maxRunningSequences = 64;
  int maxQueuedRequests = 256;
  long maxQueuedPromptTokens = 1_000_000L;
  int maxConsecutiveFailures = 3;
  int encodesPerIteration = 1;
  boolean prefixCaching = true;
  long affinitySlackTokens = -1;
  Duration retryAfter = Duration.ofSeconds(1);
  Duration idlePoll = Duration.ofMillis(10);
  Ticker ticker = Ticker.system();
  SchedulerListener listener = SchedulerListener.NONE;
  Executor callbackExecutor = ForkJoinPool.commonPool();
  boolean startThreads = true;

  SchedulerBuilder() {}

  /** Adds one executor; each gets its own worker thread. At least one is required. */
  public SchedulerBuilder addExecutor(ModelExecutor executor) {
    executors.add(Objects.requireNonNull(executor, "executor"));
    return this;
  }

  /** Adds executors, one worker each. */
  public SchedulerBuilder executors(List<? extends ModelExecutor> list) {
    list.forEach(this::addExecutor);
    return this;
  }

  /** Token slots per KV block (default 16). */
  public SchedulerBuilder blockSize(int v) {
    blockSize = positive("blockSize", v);
    return this;
  }

  /**
   * KV blocks per worker. Without it, each pool is {@code kvMemoryFraction} of the executor's
   * reported free memory (which then must be known).
   */
  public SchedulerBuilder kvBlocks(int v) {
    kvBlocks = positive("kvBlocks", v);
    return this;
  }

  /** Fraction of reported free device memory used for the KV pool, in (0, 1] (default 0.9). */
  public SchedulerBuilder kvMemoryFraction(double v) {
    if (!(v > 0 && v <= 1)) {
      throw new IllegalArgumentException("kvMemoryFraction must be in (0, 1], got " + v);
    }
    kvMemoryFraction = v;
    return this;
  }

  /** Token budget of one step: decode tokens + prefill chunk tokens (default 2048). */
  public SchedulerBuilder maxBatchTokens(int v) {
    maxBatchTokens = positive("maxBatchTokens", v);
    return this;
  }

  /** Running sequences per worker (default 64). */
  public SchedulerBuilder maxRunningSequences(int v) {
    maxRunningSequences = positive("maxRunningSequences", v);
    return this;
  }

  /** Requests that may hold an admission slot (pending prompt or waiting) at once (default 256). */
  public SchedulerBuilder maxQueuedRequests(int v) {
    maxQueuedRequests = positive("maxQueuedRequests", v);
    return this;
  }

  /** Prompt tokens that may be queued at once over all workers (default 1,000,000). */
  public SchedulerBuilder maxQueuedPromptTokens(long v) {
    if (v <= 0) {
      throw new IllegalArgumentException("maxQueuedPromptTokens must be > 0, got " + v);
    }
    maxQueuedPromptTokens = v;
    return this;
  }

  /** Consecutive failed steps after which a worker reports unhealthy (default 3). */
  public SchedulerBuilder maxConsecutiveFailures(int v) {
    maxConsecutiveFailures = positive("maxConsecutiveFailures", v);
    return this;
  }

  /**
   * Encode jobs a worker starts per iteration, between steps (default 1). Each runs slice by slice
   * ({@link ModelExecutor#startEncode}), interleaved with the steps of running sequences.
   */
  public SchedulerBuilder encodesPerIteration(int v) {
    encodesPerIteration = positive("encodesPerIteration", v);
    return this;
  }

  /**
   * Whether full KV blocks are reused by later sequences with the same token prefix (default on).
   * Off, every prompt is prefilled whole: the reference behaviour, for measuring what reuse saves.
   */
  public SchedulerBuilder prefixCaching(boolean v) {
    prefixCaching = v;
    return this;
  }

  /**
   * How many more tokens (waiting + running) the media-affine worker may carry than the least
   * loaded one before a request goes to the least loaded instead (default 4 x maxBatchTokens).
   */
  public SchedulerBuilder affinitySlackTokens(long v) {
    if (v < 0) {
      throw new IllegalArgumentException("affinitySlackTokens must be >= 0, got " + v);
    }
    affinitySlackTokens = v;
    return this;
  }

  /** Retry hint given with {@link OverloadedException} (default 1 s). */
  public SchedulerBuilder retryAfter(Duration v) {
    if (v == null || v.isNegative()) {
      throw new IllegalArgumentException("retryAfter must be >= 0, got " + v);
    }
    retryAfter = v;
    return this;
  }

  /** How long an idle worker waits for new work before re-checking deadlines (default 10 ms). */
  public SchedulerBuilder idlePoll(Duration v) {
    if (v == null || v.isNegative() || v.isZero()) {
      throw new IllegalArgumentException("idlePoll must be > 0, got " + v);
    }
    idlePoll = v;
    return this;
  }

  /** Clock for deadlines and request timings (default {@link Ticker#system()}). */
  public SchedulerBuilder ticker(Ticker v) {
    ticker = Objects.requireNonNull(v, "ticker");
    return this;
  }

  /** Metrics hooks (default none). */
  public SchedulerBuilder listener(SchedulerListener v) {
    listener = Objects.requireNonNull(v, "listener");
    return this;
  }

  /** Where encode futures are completed (default the common pool); never a worker thread. */
  public SchedulerBuilder callbackExecutor(Executor v) {
    callbackExecutor = Objects.requireNonNull(v, "callbackExecutor");
    return this;
  }

  /** Tests only: do not start worker threads; the test drives iterations itself. */
  SchedulerBuilder manualStepping() {
    startThreads = false;
    return this;
  }

  /**
   * Sizes the KV pools, allocates them on the executors and starts the workers.
   *
   * @throws IllegalArgumentException if no executor was added, or a pool cannot be sized
   * @throws IllegalStateException if an executor fails to allocate its KV pool (the others are
   *     stopped and closed)
   */
  public Scheduler build() {
    if (executors.isEmpty()) {
      throw new IllegalArgumentException("at least one executor is required, got none");
    }
    if (maxBatchTokens < 1) {
      throw new IllegalArgumentException("maxBatchTokens must be >= 1");
    }
    return new SchedulerImpl(this, List.copyOf(executors));
  }

  private static int positive(String name, int v) {
    if (v <= 0) {
      throw new IllegalArgumentException(name + " must be > 0, got " + v);
    }
    return v;
  }
}

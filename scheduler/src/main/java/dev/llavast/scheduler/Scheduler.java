package dev.llavast.scheduler;

import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;

/**
 * Continuous batching over one or more model executors (one {@code Worker} thread per executor).
 * Build one with {@link #builder()}.
 *
 * <p>All methods may be called from any thread. Token callbacks run on worker threads (see {@link
 * TokenSink}).
 */
public interface Scheduler extends AutoCloseable {

  static SchedulerBuilder builder() {
    return new SchedulerBuilder();
  }

  /**
   * Admits a request. Admission control is the first thing that happens: nothing is queued and the
   * sink is never called if this throws.
   *
   * @throws OverloadedException the waiting queue is full by request count or by queued prompt
   *     tokens
   * @throws InvalidRequestException the request can never fit (prompt + max new tokens beyond the
   *     context limit or the KV pool, or more prompt tokens than the whole queue may hold)
   * @throws DuplicateRequestException a request with the same request id is already in flight
   * @throws SchedulerUnavailableException shutting down, or no healthy worker
   */
  RequestHandle submit(GenerationRequest request, TokenSink sink);

  /**
   * Cancels an in-flight request by id (the {@code Abort} RPC).
   *
   * @return false if no request with that id is in flight
   */
  boolean cancel(String requestId);

  /**
   * Runs {@link ModelExecutor#encode} on a worker thread, between steps and under the encode budget
   * (so a new video does not freeze running streams). The worker is {@code preferredWorker} if
   * given and healthy, else the one that last served the media key, else the least loaded one. The
   * future completes on the builder's callback executor, never on the worker thread; cancelling it
   * before the worker starts the job skips the job.
   */
  CompletableFuture<MediaFeatures> encode(PreparedMedia media, OptionalInt preferredWorker);

  /** {@link #encode(PreparedMedia, OptionalInt)} without a preferred worker. */
  default CompletableFuture<MediaFeatures> encode(PreparedMedia media) {
    return encode(media, OptionalInt.empty());
  }

  /** A snapshot of queue depth, running sequences, KV usage and counters. Cheap. */
  SchedulerStats stats();

  /** Number of workers. */
  int workerCount();

  /** Whether worker {@code index} is healthy (not failing repeatedly, loop alive). */
  boolean isWorkerHealthy(int index);

  /** True if at least one worker is healthy and the scheduler accepts requests. */
  boolean isReady();

  /**
   * Graceful shutdown: stops admitting at once, lets queued and running requests finish for up to
   * {@code grace} (wall time), then ends the rest with {@link SchedulerUnavailableException}, fails
   * queued encodes, stops the workers and closes the executors. Every sink is terminated and every
   * block is free when this returns. Idempotent; blocks the caller.
   *
   * @return true if everything finished within the grace period
   */
  boolean shutdown(Duration grace);

  /** {@code shutdown(Duration.ZERO)}. */
  @Override
  default void close() {
    shutdown(Duration.ZERO);
  }
}

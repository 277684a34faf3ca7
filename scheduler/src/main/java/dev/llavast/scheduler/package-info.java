/**
 * Continuous batching for LLaVA-ST: admission control, dispatch over device workers,
 * iteration-level scheduling, a paged KV pool with prefix reuse. No tensor library: the model plugs
 * in through {@link dev.llavast.scheduler.ModelExecutor}.
 *
 * <p>Typical use by the server:
 *
 * <pre>{@code
 * Scheduler scheduler = Scheduler.builder()
 *     .executors(models)                 // one ModelExecutor per device; one worker thread each
 *     .blockSize(16).kvMemoryFraction(0.9)
 *     .maxBatchTokens(2048).maxRunningSequences(64)
 *     .maxQueuedRequests(256).maxQueuedPromptTokens(1_000_000)
 *     .listener(metrics)                 // SchedulerListener: step duration, batch size, encodes
 *     .build();
 *
 * // admission first, before any media is decoded
 * RequestHandle h = scheduler.submit(
 *     GenerationRequest.pending(id, promptFuture, expectedPromptTokens, mediaKey, sampling, priority, timeout),
 *     sink);                             // throws OverloadedException / InvalidRequestException /
 *                                        // DuplicateRequestException
 * // media work: features = scheduler.encode(preparedMedia) runs on a worker between steps
 * // client gone: h.cancel(); Abort RPC: scheduler.cancel(id)
 * // metrics: scheduler.stats(); readiness: scheduler.isReady(); SIGTERM: scheduler.shutdown(grace)
 * }</pre>
 *
 * <p>Public types are the contract; {@code Worker}, {@code Dispatcher}, {@code BlockManager},
 * {@code Sequence} and {@code SchedulingPolicy} are package-private implementation.
 */
package dev.llavast.scheduler;

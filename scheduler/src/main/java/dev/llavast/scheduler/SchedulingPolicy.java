package dev.llavast.scheduler;

/**
 * The per-worker limits of one iteration (immutable).
 *
 * @param maxBatchTokens positions computed per step (decodes count 1, prefill chunks their length)
 * @param maxRunningSequences sequences in the running batch
 * @param encodesPerIteration encode jobs run between two steps
 * @param maxConsecutiveFailures failed steps in a row after which the worker reports unhealthy
 * @param prefixCaching whether full KV blocks are kept under their content hash and reused by later
 *     sequences with the same prefix (off: every prompt is prefilled whole)
 */
record SchedulingPolicy(
    int maxBatchTokens,
    int maxRunningSequences,
    int encodesPerIteration,
    int maxConsecutiveFailures,
    boolean prefixCaching) {

  /** A policy with prefix caching on. */
  SchedulingPolicy(
      int maxBatchTokens,
      int maxRunningSequences,
      int encodesPerIteration,
      int maxConsecutiveFailures) {
    this(maxBatchTokens, maxRunningSequences, encodesPerIteration, maxConsecutiveFailures, true);
  }
}

package dev.llavast.scheduler;

/**
 * The per-worker limits of one iteration (immutable).
 *
 * @param maxBatchTokens positions computed per step (decodes count 1, prefill chunks their length)
 * @param maxRunningSequences sequences in the running batch
 * @param encodesPerIteration encode jobs run between two steps
 * @param maxConsecutiveFailures failed steps in a row after which the worker reports unhealthy
 */
record SchedulingPolicy(
    int maxBatchTokens,
    int maxRunningSequences,
    int encodesPerIteration,
    int maxConsecutiveFailures) {}

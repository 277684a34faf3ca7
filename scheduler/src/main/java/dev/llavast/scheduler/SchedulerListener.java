package dev.llavast.scheduler;

/**
 * Hooks for metrics. Called on worker threads; implementations must be thread-safe, fast and
 * non-blocking (increment a counter, observe a histogram). Exceptions are logged and ignored.
 */
public interface SchedulerListener {
  SchedulerListener NONE = new SchedulerListener() {};

  /** After every executed step (successful or failed). */
  default void onStep(StepEvent event) {}

  /** After every encode job. */
  default void onEncode(int workerIndex, long nanos, boolean success) {}

  /**
   * One step of one worker.
   *
   * @param workerIndex the worker
   * @param batchSize sequences in the step
   * @param decodeSequences of those, single-token decodes
   * @param scheduledTokens positions computed (decodes + prefill chunk lengths)
   * @param preemptions sequences preempted while planning this step
   * @param stepNanos time inside {@link ModelExecutor#step}
   * @param bookkeepingNanos the rest of the iteration: planning, delivery, freeing
   * @param failed whether the executor threw
   */
  record StepEvent(
      int workerIndex,
      int batchSize,
      int decodeSequences,
      int scheduledTokens,
      int preemptions,
      long stepNanos,
      long bookkeepingNanos,
      boolean failed) {}
}

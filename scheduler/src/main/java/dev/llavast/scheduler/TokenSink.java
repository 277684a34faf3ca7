package dev.llavast.scheduler;

/**
 * Where one request's tokens go.
 *
 * <p><b>Threading and blocking.</b> Every callback runs on the worker thread that serves the
 * request, one at a time, in order. Callbacks must return quickly and <b>never block</b> (no I/O,
 * no waiting on a client, no locks held by slow code): a slow sink stalls every stream on that
 * worker. Append to a bounded queue and return; if it is full, return false from {@link #onToken}
 * or record the overflow and let the consumer cancel.
 *
 * <p><b>Order.</b> {@link #onStart} at most once (when the request is first admitted), then {@link
 * #onToken} zero or more times, then exactly one terminal callback, {@link #onFinish} or {@link
 * #onError}, always: also on cancel, deadline, executor failure and shutdown. Nothing is called
 * after the terminal callback. If {@link Scheduler#submit} throws, no callback is ever made.
 *
 * <p>A callback that throws fails its request with an {@link InternalSchedulerException} (the
 * terminal callback is still made, once); exceptions from terminal callbacks are logged.
 */
public interface TokenSink {

  /**
   * The request was admitted to a running batch for the first time.
   *
   * @param promptTokens prompt length
   * @param cachedTokens prompt tokens reused from the prefix cache
   */
  default void onStart(int promptTokens, int cachedTokens) {}

  /**
   * A token was generated (stop tokens are not passed here).
   *
   * @param tokenId the sampled id (may be an extended id beyond the text vocabulary)
   * @param logprob its log-probability, or {@code Float.NaN} when not requested
   * @return true to continue, false to stop now ({@link FinishReason#STOPPED_BY_SINK})
   */
  boolean onToken(int tokenId, float logprob);

  /**
   * The stop token that ends the answer was sampled; {@link #onFinish} with {@link
   * FinishReason#STOP_TOKEN} follows at once. For sinks that report which stop token ended an
   * answer and its log-probability.
   *
   * @param logprob its log-probability, or {@code Float.NaN} when not requested
   */
  default void onStopToken(int tokenId, float logprob) {}

  /** Terminal: generation ended normally. */
  void onFinish(FinishReason reason, Usage usage);

  /** Terminal: the request failed or was cancelled; {@code usage} holds what was done so far. */
  void onError(SchedulerException error, Usage usage);
}

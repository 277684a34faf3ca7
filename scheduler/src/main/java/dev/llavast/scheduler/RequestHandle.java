package dev.llavast.scheduler;

/** The caller's handle on a submitted request. All methods may be called from any thread. */
public interface RequestHandle {
  String requestId();

  /**
   * Asks the scheduler to cancel the request. It takes effect within one worker iteration, in any
   * state; the sink then gets {@link TokenSink#onError} with a {@link RequestCancelledException}
   * (unless the request ended first). A pending prompt future is never cancelled.
   *
   * @return false if the request had already ended
   */
  boolean cancel();

  /** Current state; may lag the worker by one iteration. */
  RequestStatus status();

  /** Index of the worker the request was dispatched to. */
  int workerIndex();
}

package dev.llavast.scheduler;

/**
 * Base of every typed error the scheduler reports, either thrown from {@link Scheduler#submit} or
 * delivered to {@link TokenSink#onError}. Each subclass names one failure class that the server maps
 * to one gRPC status code; {@link #reason()} is a stable machine-readable reason for
 * {@code google.rpc.ErrorInfo}.
 */
public abstract class SchedulerException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  protected SchedulerException(String message, Throwable cause) {
    super(message, cause);
  }

  protected SchedulerException(String message) {
    super(message);
  }

  /** Stable upper-snake-case reason, e.g. {@code QUEUE_FULL}; never changes for a subclass. */
  public abstract String reason();
}

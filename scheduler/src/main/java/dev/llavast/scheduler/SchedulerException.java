package dev.llavast.scheduler;

import org.jspecify.annotations.Nullable;

/**
 * Base of every typed error the scheduler reports, either thrown from {@link Scheduler#submit} or
 * delivered to {@link TokenSink#onError}. Each subclass names one failure class that the server
 * maps to one gRPC status code; {@link #reason()} names it for the server, which never reads the
 * message to decide.
 */
public abstract class SchedulerException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final SchedulerError reason;

  SchedulerException(SchedulerError reason, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  SchedulerException(SchedulerError reason, String message) {
    this(reason, message, null);
  }

  /** The message it was made with; never null. */
  @Override
  public String getMessage() {
    String m = super.getMessage();
    return m == null ? reason.name() : m;
  }

  /** What failed; the same constant for every instance of a subclass. */
  public final SchedulerError reason() {
    return reason;
  }
}

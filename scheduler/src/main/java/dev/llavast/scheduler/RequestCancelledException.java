package dev.llavast.scheduler;

/**
 * The request was cancelled ({@link RequestHandle#cancel()} or {@link Scheduler#cancel}). Maps to
 * {@code CANCELLED}.
 */
public final class RequestCancelledException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public RequestCancelledException(String message) {
    super(SchedulerError.CANCELLED, message);
  }
}

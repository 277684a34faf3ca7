package dev.llavast.scheduler;

/**
 * The model executor failed while running this request's step or encode, or a sink callback threw.
 * Only the requests of the failed work get it; the worker carries on. Maps to {@code INTERNAL}.
 */
public final class InternalSchedulerException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public InternalSchedulerException(String message, Throwable cause) {
    super(SchedulerError.INTERNAL, message, cause);
  }
}

package dev.llavast.scheduler;

/** The request's deadline passed before it finished. Maps to {@code DEADLINE_EXCEEDED}. */
public final class DeadlineExceededException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public DeadlineExceededException(String message) {
    super(SchedulerError.DEADLINE_EXCEEDED, message);
  }
}

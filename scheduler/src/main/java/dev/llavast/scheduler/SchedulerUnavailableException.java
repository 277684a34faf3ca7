package dev.llavast.scheduler;

/**
 * The scheduler cannot serve the request now: it is shutting down, or no worker is healthy. Maps to
 * {@code UNAVAILABLE}.
 */
public final class SchedulerUnavailableException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public SchedulerUnavailableException(String message) {
    super(SchedulerError.UNAVAILABLE, message);
  }
}

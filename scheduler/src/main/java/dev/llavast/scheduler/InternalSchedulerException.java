package dev.llavast.scheduler;

import org.jspecify.annotations.Nullable;

/**
 * The model executor failed while running this request's step or encode, or a sink callback threw.
 * Only the requests of the failed work get it; the worker carries on. Maps to {@code INTERNAL}.
 */
public final class InternalSchedulerException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public InternalSchedulerException(String message, @Nullable Throwable cause) {
    super(SchedulerError.INTERNAL, message, cause);
  }
}

package dev.llavast.scheduler;

import java.time.Duration;
import java.util.Objects;

/**
 * The waiting queue is full (by request count or by queued prompt tokens); thrown by {@link
 * Scheduler#submit} at once, before any work is done. The server answers {@code RESOURCE_EXHAUSTED}
 * with a {@code RetryInfo} of {@link #retryAfter()}.
 */
public final class OverloadedException extends SchedulerException {
  private static final long serialVersionUID = 1L;
  private final Duration retryAfter;

  public OverloadedException(String message, Duration retryAfter) {
    super(SchedulerError.QUEUE_FULL, message);
    this.retryAfter = Objects.requireNonNull(retryAfter, "retryAfter");
  }

  /** How long the client should wait before retrying. */
  public Duration retryAfter() {
    return retryAfter;
  }
}

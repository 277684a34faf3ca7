package dev.llavast.scheduler;

import java.util.Objects;

/**
 * A request with the same id is already in flight (queued or running); thrown by {@link
 * Scheduler#submit}: nothing is queued, the new sink is never called, and the request already in
 * flight is unaffected. Unlike {@link InvalidRequestException} the request itself is fine: the same
 * id is accepted again once the first request has ended. Maps to {@code ALREADY_EXISTS}.
 */
public final class DuplicateRequestException extends SchedulerException {
  private static final long serialVersionUID = 1L;
  private final String requestId;

  public DuplicateRequestException(String requestId) {
    super(
        SchedulerError.DUPLICATE_REQUEST_ID,
        "request id " + Objects.requireNonNull(requestId, "requestId") + " is already in flight");
    this.requestId = requestId;
  }

  /** The id that is already in flight. */
  public String requestId() {
    return requestId;
  }
}

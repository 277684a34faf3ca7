package dev.llavast.scheduler;

/**
 * The request can never be served as given (e.g. prompt + max new tokens beyond the context limit
 * or the KV pool). Maps to {@code INVALID_ARGUMENT}. A request id already in flight is a {@link
 * DuplicateRequestException} instead.
 */
public final class InvalidRequestException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public InvalidRequestException(String message) {
    super(SchedulerError.INVALID_REQUEST, message);
  }
}

package dev.llavast.scheduler;

/**
 * The request can never be served as given (e.g. prompt + max new tokens beyond the context limit or
 * the KV pool, a duplicate request id). Maps to {@code INVALID_ARGUMENT}.
 */
public final class InvalidRequestException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public InvalidRequestException(String message) {
    super(message);
  }

  @Override
  public String reason() {
    return "INVALID_REQUEST";
  }
}

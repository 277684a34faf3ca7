package dev.llavast.scheduler;

/**
 * A failure inside the model executor (encode or step). Fails the work it was running, not the
 * worker.
 */
public class ExecutorException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ExecutorException(String message, Throwable cause) {
    super(message, cause);
  }

  public ExecutorException(String message) {
    super(message);
  }
}

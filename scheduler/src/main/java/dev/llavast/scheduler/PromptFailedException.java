package dev.llavast.scheduler;

import org.jspecify.annotations.Nullable;

/**
 * The request's prompt future ({@link GenerationRequest#prompt()}) completed exceptionally, e.g.
 * the media could not be decoded. {@link #getCause()} is the failure the future completed with, so
 * the server can map it by its own type.
 */
public final class PromptFailedException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public PromptFailedException(String message, @Nullable Throwable cause) {
    super(SchedulerError.PROMPT_FAILED, message, cause);
  }
}

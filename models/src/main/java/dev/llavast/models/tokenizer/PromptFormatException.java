package dev.llavast.models.tokenizer;

/**
 * A question or conversation turn that cannot be rendered (malformed coordinate, forbidden token).
 */
public final class PromptFormatException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public PromptFormatException(String message) {
    super(message);
  }

  /** The message it was made with; never null. */
  @Override
  public String getMessage() {
    String m = super.getMessage();
    return m == null ? "malformed prompt" : m;
  }
}

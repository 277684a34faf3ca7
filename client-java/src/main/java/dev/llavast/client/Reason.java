package dev.llavast.client;

/**
 * The server's machine-readable error reason ({@code google.rpc.ErrorInfo.reason}, domain {@value
 * LlavaStException#DOMAIN}), mirroring {@code llavast.v1.ErrorReason} without its prefix. {@link
 * #UNKNOWN} when the error carried no ErrorInfo of our domain (a proxy, a transport failure) or a
 * reason this client does not know yet ({@link LlavaStException#reasonName()} keeps the raw name).
 */
public enum Reason {
  UNKNOWN,
  INVALID_REQUEST,
  PROMPT_TOO_LONG,
  MEDIA_INVALID,
  MEDIA_TOO_LARGE,
  MEDIA_NOT_FOUND,
  SESSION_NOT_FOUND,
  SESSION_CLOSED,
  SESSION_BUSY,
  OVERLOADED,
  TOO_MANY_SESSIONS,
  NOT_READY,
  CANCELLED,
  DEADLINE_EXCEEDED,
  MODEL_FAILURE,
  NOT_IMPLEMENTED,
  DUPLICATE_REQUEST_ID,
  SLOW_CONSUMER,
  UNAUTHENTICATED;

  /**
   * The reason for a raw ErrorInfo reason string; {@link #UNKNOWN} for null, empty or unknown
   * names.
   */
  public static Reason fromName(String name) {
    if (name == null || name.isEmpty()) {
      return UNKNOWN;
    }
    try {
      return valueOf(name);
    } catch (IllegalArgumentException e) {
      return UNKNOWN;
    }
  }
}

package dev.llavast.server.errors;

/**
 * Why a request failed: one stable name per failure, from where it is found to the transport that
 * reports it. The names are those of {@code llavast.v1.ErrorReason} without its prefix (a test
 * keeps the two lists equal); each has the canonical {@link Kind} a transport maps to its status
 * code.
 */
public enum Reason {
  /** One or more fields are out of range or malformed; the violations name them. */
  INVALID_REQUEST(Kind.INVALID_ARGUMENT),
  /** The prompt with its visual tokens plus the new tokens can never fit a worker. */
  PROMPT_TOO_LONG(Kind.INVALID_ARGUMENT),
  /** The media cannot be decoded. */
  MEDIA_INVALID(Kind.INVALID_ARGUMENT),
  /** The media is over a size, duration or resolution limit. */
  MEDIA_TOO_LARGE(Kind.INVALID_ARGUMENT),
  /** No media with that id. */
  MEDIA_NOT_FOUND(Kind.NOT_FOUND),
  /** No session with that id. */
  SESSION_NOT_FOUND(Kind.NOT_FOUND),
  /** The session was closed or has expired. */
  SESSION_CLOSED(Kind.FAILED_PRECONDITION),
  /** Another question is running on the session. */
  SESSION_BUSY(Kind.ABORTED),
  /** The waiting queue is full; retry later. */
  OVERLOADED(Kind.RESOURCE_EXHAUSTED),
  /** The session limit is reached. */
  TOO_MANY_SESSIONS(Kind.RESOURCE_EXHAUSTED),
  /** Draining or not ready; retry on another replica. */
  NOT_READY(Kind.UNAVAILABLE),
  /** Aborted by the client or by {@code Abort}. */
  CANCELLED(Kind.CANCELLED),
  /** The deadline passed. */
  DEADLINE_EXCEEDED(Kind.DEADLINE_EXCEEDED),
  /** The model failed for this request (or an unexpected error); the server keeps serving. */
  MODEL_FAILURE(Kind.INTERNAL),
  /** The method is not available in this build. */
  NOT_IMPLEMENTED(Kind.UNIMPLEMENTED),
  /** A request with the same id is running. */
  DUPLICATE_REQUEST_ID(Kind.ALREADY_EXISTS),
  /** A client stopped reading a stream for longer than the server buffers. */
  SLOW_CONSUMER(Kind.FAILED_PRECONDITION),
  /** No API key, or one the server does not know. */
  UNAUTHENTICATED(Kind.UNAUTHENTICATED);

  private final Kind kind;

  Reason(Kind kind) {
    this.kind = kind;
  }

  /** The usual class of this failure; an {@link ApiException} may override it. */
  public Kind kind() {
    return kind;
  }

  /**
   * Transport-neutral classes of failure: the canonical codes of {@code google.rpc.Code}, which
   * gRPC sends as they are and HTTP maps to its statuses.
   */
  public enum Kind {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    CANCELLED,
    DEADLINE_EXCEEDED,
    INTERNAL,
    UNIMPLEMENTED,
    UNAUTHENTICATED
  }
}

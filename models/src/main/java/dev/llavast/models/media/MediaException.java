package dev.llavast.models.media;

import java.util.Objects;

/**
 * The media given by a client cannot be used. Always the client's fault (the server maps every
 * reason to {@code INVALID_ARGUMENT}); server-side faults (a temp file that cannot be written) are
 * not reported with this type. Unchecked so that it travels through futures unchanged.
 */
public final class MediaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why the media was refused. */
  public enum Reason {
    /** Zero bytes, or an empty frame list. */
    EMPTY,
    /** More bytes than {@link MediaLimits#maxBytes()}. */
    TOO_MANY_BYTES,
    /** Not a readable image or video container (unknown format, corrupt or truncated header). */
    UNREADABLE,
    /** A container without a video stream (e.g. audio only). */
    NO_VIDEO_STREAM,
    /** The container opened but not a single frame could be decoded (in the clip). */
    NO_FRAMES,
    /** Width or height zero, negative, or over the limits. */
    BAD_DIMENSIONS,
    /**
     * Duration or frame count over the limits, or a frame rate that is not a positive finite
     * number.
     */
    TOO_LONG,
    /** The clip range is empty, reversed, negative or outside the video. */
    INVALID_CLIP,
    /** Decoding ran past {@link MediaLimits#maxDecodeTime()}. */
    DECODE_TIMEOUT,
    /** Pre-decoded frames that are inconsistent (different sizes, bad fps). */
    INVALID_FRAMES
  }

  private final Reason reason;

  public MediaException(Reason reason, String message) {
    super(Objects.requireNonNull(reason, "reason") + ": " + message);
    this.reason = reason;
  }

  public MediaException(Reason reason, String message, Throwable cause) {
    super(Objects.requireNonNull(reason, "reason") + ": " + message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  /** "REASON: message"; never null. */
  @Override
  public String getMessage() {
    String m = super.getMessage();
    return m == null ? reason.name() : m;
  }
}

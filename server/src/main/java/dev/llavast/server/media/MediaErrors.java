package dev.llavast.server.media;

import dev.llavast.models.media.MediaException;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;

/**
 * Maps {@link MediaException} (media a client sent that cannot be used) to the API's errors. Every
 * reason is the client's fault: "cannot be decoded" is {@code MEDIA_INVALID}, "over a configured
 * limit" {@code MEDIA_TOO_LARGE}, and a bad clip {@code INVALID_REQUEST} on the {@code clip} field.
 * Stateless; any thread.
 */
public final class MediaErrors {
  /** The request field a bad clip is reported against. */
  public static final String CLIP_FIELD = "clip";

  private MediaErrors() {}

  /** The API error for a media failure; the message keeps the decoder's precise text. */
  public static ApiException toApi(MediaException e) {
    String msg = e.getMessage();
    return switch (e.reason()) {
      case TOO_MANY_BYTES, BAD_DIMENSIONS, TOO_LONG ->
          ApiException.builder(Reason.MEDIA_TOO_LARGE, "media over a limit: " + msg)
              .metadata("media_error", e.reason().name())
              .build();
      case INVALID_CLIP ->
          ApiException.builder(Reason.INVALID_REQUEST, "invalid " + CLIP_FIELD + ": " + msg)
              .violation(CLIP_FIELD, msg)
              .metadata("media_error", e.reason().name())
              .build();
      case EMPTY, UNREADABLE, NO_VIDEO_STREAM, NO_FRAMES, DECODE_TIMEOUT, INVALID_FRAMES ->
          ApiException.builder(Reason.MEDIA_INVALID, "media cannot be used: " + msg)
              .metadata("media_error", e.reason().name())
              .build();
    };
  }

  /**
   * The error for media sent inline in a request (not uploaded) over their cap: the one rule both
   * doors apply. {@code field} names the request field, {@code limit} goes into the ErrorInfo.
   */
  public static ApiException inlineTooLarge(
      String field,
      long bytes,
      long limit,
      java.util.List<dev.llavast.server.errors.FieldViolation> violations) {
    return ApiException.builder(
            Reason.MEDIA_TOO_LARGE,
            "inline media of "
                + bytes
                + " bytes is over the limit of "
                + limit
                + " bytes; upload it with UploadMedia and refer to its media id")
        .violation(field, "is " + bytes + " bytes, more than the inline limit of " + limit)
        .violations(violations)
        .metadata("limit_bytes", Long.toString(limit))
        .build();
  }

  /** The API error for any failure of media work: media failures mapped, the rest unchanged. */
  public static Throwable map(Throwable t) {
    Throwable c = unwrap(t);
    if (c instanceof MediaException me) {
      return toApi(me);
    }
    if (c instanceof java.io.UncheckedIOException u
        && u.getCause() instanceof java.nio.file.NoSuchFileException) {
      return ApiException.of(
          Reason.MEDIA_NOT_FOUND, "the media's file is gone (deleted while in use)");
    }
    return c;
  }

  /**
   * Strips {@link java.util.concurrent.CompletionException} / {@link
   * java.util.concurrent.ExecutionException}.
   */
  public static Throwable unwrap(Throwable t) {
    Throwable c = t;
    while ((c instanceof java.util.concurrent.CompletionException
            || c instanceof java.util.concurrent.ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }
}

package dev.llavast.server;

import com.google.rpc.Code;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.models.media.MediaException;
import io.grpc.StatusRuntimeException;

/**
 * Maps {@link MediaException} (media a client sent that cannot be used) to the API's gRPC errors.
 * Every reason is the client's fault, so every code is INVALID_ARGUMENT; the ErrorInfo reason tells
 * "cannot be decoded" ({@code MEDIA_INVALID}) from "over a configured limit" ({@code MEDIA_TOO_LARGE})
 * and a bad clip ({@code INVALID_REQUEST} with a field violation). Stateless; any thread.
 */
final class MediaErrors {
  /** The request field a bad clip is reported against. */
  static final String CLIP_FIELD = "clip";

  private MediaErrors() {}

  /** The API error for a media failure; the message keeps the decoder's precise text. */
  static StatusRuntimeException toStatus(MediaException e) {
    String msg = e.getMessage();
    return switch (e.reason()) {
      case TOO_MANY_BYTES, BAD_DIMENSIONS, TOO_LONG ->
          ApiErrors.builder(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MEDIA_TOO_LARGE, "media over a limit: " + msg)
              .metadata("media_error", e.reason().name())
              .build();
      case INVALID_CLIP -> ApiErrors.builder(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_INVALID_REQUEST,
              "invalid " + CLIP_FIELD + ": " + msg)
          .violation(CLIP_FIELD, msg)
          .metadata("media_error", e.reason().name())
          .build();
      case EMPTY, UNREADABLE, NO_VIDEO_STREAM, NO_FRAMES, DECODE_TIMEOUT, INVALID_FRAMES ->
          ApiErrors.builder(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MEDIA_INVALID, "media cannot be used: " + msg)
              .metadata("media_error", e.reason().name())
              .build();
    };
  }

  /** The API error for any failure of media work: media failures mapped, the rest unchanged. */
  static Throwable map(Throwable t) {
    Throwable c = unwrap(t);
    if (c instanceof MediaException me) {
      return toStatus(me);
    }
    if (c instanceof java.io.UncheckedIOException u && u.getCause() instanceof java.nio.file.NoSuchFileException) {
      return ApiErrors.of(Code.NOT_FOUND, ErrorReason.ERROR_REASON_MEDIA_NOT_FOUND,
          "the media's file is gone (deleted while in use): " + u.getCause().getMessage());
    }
    return c;
  }

  /** Strips {@link java.util.concurrent.CompletionException} / {@link java.util.concurrent.ExecutionException}. */
  static Throwable unwrap(Throwable t) {
    Throwable c = t;
    while ((c instanceof java.util.concurrent.CompletionException
        || c instanceof java.util.concurrent.ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }
}

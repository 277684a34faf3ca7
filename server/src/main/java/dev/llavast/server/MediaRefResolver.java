package dev.llavast.server;

import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.api.v1.InlineFrames;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.server.MediaStore.StoredMedia;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * A request's {@link MediaRef} to a {@link StoredMedia}: an uploaded id is looked up; inline bytes
 * (video, image or frames) go through {@link MediaStore#putInline}, the same hashing, size cap and
 * probe as an upload, on the probe pool. The result is what {@link MediaPipeline#resolve} takes.
 *
 * <p>Thread-safe; {@link #resolve} may be called from any thread and never blocks.
 */
final class MediaRefResolver {
  private final MediaStore store;
  private final MediaStore.MediaProbe probe;
  private final Executor probePool;

  /** @param probePool bounded CPU pool for storing and probing inline media */
  MediaRefResolver(MediaStore store, MediaStore.MediaProbe probe, Executor probePool) {
    this.store = Objects.requireNonNull(store, "store");
    this.probe = Objects.requireNonNull(probe, "probe");
    this.probePool = Objects.requireNonNull(probePool, "probePool");
  }

  /**
   * The stored media a reference names.
   *
   * @param field the reference's path in the request (e.g. {@code "media"}), for errors
   * @return completes with the media, or fails with a {@link StatusRuntimeException}: INVALID_ARGUMENT
   *     (no source, malformed id, bad or over-limit inline media), NOT_FOUND / MEDIA_NOT_FOUND,
   *     RESOURCE_EXHAUSTED / OVERLOADED when the probe pool is full
   */
  CompletableFuture<StoredMedia> resolve(MediaRef ref, String field) {
    try {
      return switch (ref.getSourceCase()) {
        case MEDIA_ID -> {
          String id = ref.getMediaId();
          if (!MediaServiceImpl.isMediaId(id)) {
            throw invalid(field + ".media_id", "must be \"sha256:\" followed by 64 lowercase hex digits, got \""
                + (id.length() > 80 ? id.substring(0, 80) + "..." : id) + "\"");
          }
          yield CompletableFuture.completedFuture(store.get(id).orElseThrow(() -> MediaServiceImpl.notFound(id)));
        }
        case VIDEO_BYTES -> inline(MediaKind.MEDIA_KIND_VIDEO, List.of(ref.getVideoBytes()), 0.0);
        case IMAGE_BYTES -> inline(MediaKind.MEDIA_KIND_IMAGE, List.of(ref.getImageBytes()), 0.0);
        case FRAMES -> {
          InlineFrames f = ref.getFrames();
          double fps = f.getFps();
          if (!(fps > 0) || !Double.isFinite(fps) || fps > 1000) {
            throw invalid(field + ".frames.fps", "must be in (0, 1000], got " + fps);
          }
          if (f.getImagesCount() == 0) {
            throw invalid(field + ".frames.images", "must hold at least one image");
          }
          yield inline(MediaKind.MEDIA_KIND_FRAMES, f.getImagesList(), fps);
        }
        case SOURCE_NOT_SET -> throw invalid(field, "must set media_id, video_bytes, image_bytes or frames");
      };
    } catch (StatusRuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private CompletableFuture<StoredMedia> inline(MediaKind kind, List<ByteString> chunks, double fps) {
    try {
      return CompletableFuture.supplyAsync(() -> {
        try {
          return store.putInline(kind, chunks, fps, probe);
        } catch (IOException e) {
          throw new UncheckedIOException("could not store inline media", e);
        } catch (StatusRuntimeException e) {
          throw inlineError(e);
        }
      }, probePool);
    } catch (RejectedExecutionException e) {
      return CompletableFuture.failedFuture(
          ApiErrors.overloaded("too many media items are being probed; retry later", Duration.ofSeconds(1)));
    }
  }

  /**
   * The store refuses an oversized upload in progress with RESOURCE_EXHAUSTED; media inline in a
   * request is simply an invalid argument (errors.proto, MEDIA_TOO_LARGE).
   */
  private static StatusRuntimeException inlineError(StatusRuntimeException e) {
    if (e.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED) {
      return e;
    }
    return ApiErrors.of(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MEDIA_TOO_LARGE,
        "inline media: " + e.getStatus().getDescription());
  }

  private static StatusRuntimeException invalid(String field, String description) {
    return ApiErrors.invalidArgument(List.of(new ApiErrors.FieldViolation(field, description)));
  }
}

package dev.llavast.server.grpc;

import com.google.protobuf.ByteString;
import dev.llavast.api.v1.InlineFrames;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.GenerationJob;
import dev.llavast.server.media.MediaStore;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A request's {@link MediaRef} as the engine's {@link GenerationJob.Media}: an uploaded id is
 * looked up at once; inline bytes (video, image or frames) are stored through {@link
 * MediaStore#putInlineAsync}, the same hashing, size cap and probe as an upload. Thread-safe; never
 * blocks.
 */
final class MediaRefResolver {
  private final MediaStore store;
  private final MediaStore.MediaProbe probe;
  private final Executor probePool;

  /**
   * @param probePool bounded CPU pool for storing and probing inline media
   */
  MediaRefResolver(MediaStore store, MediaStore.MediaProbe probe, Executor probePool) {
    this.store = store;
    this.probe = probe;
    this.probePool = probePool;
  }

  /** The resolver of an engine's media. */
  static MediaRefResolver of(Engine engine) {
    return new MediaRefResolver(engine.mediaStore(), engine.probe(), engine.decodePool());
  }

  /**
   * The media a reference names.
   *
   * @param field the reference's path in the request (e.g. {@code "media"}), for errors
   * @throws ApiException INVALID_REQUEST (no source, malformed id, bad frames) or MEDIA_NOT_FOUND,
   *     at once; a bad or over-limit inline item fails the returned media's future instead
   */
  GenerationJob.Media resolve(MediaRef ref, String field) {
    return switch (ref.getSourceCase()) {
      case MEDIA_ID -> {
        String id = ref.getMediaId();
        if (!MediaServiceImpl.isMediaId(id)) {
          throw ApiException.invalid(
              field + ".media_id",
              "must be \"sha256:\" followed by 64 lowercase hex digits,"
                  + " got \""
                  + (id.length() > 80 ? id.substring(0, 80) + "..." : id)
                  + "\"");
        }
        yield GenerationJob.Media.of(
            store.get(Tenants.current(), id).orElseThrow(() -> MediaServiceImpl.notFound(id)));
      }
      case VIDEO_BYTES -> inline(DecodedMedia.Kind.VIDEO, List.of(ref.getVideoBytes()), 0.0);
      case IMAGE_BYTES -> inline(DecodedMedia.Kind.IMAGE, List.of(ref.getImageBytes()), 0.0);
      case FRAMES -> {
        InlineFrames f = ref.getFrames();
        double fps = f.getFps();
        if (!(fps > 0) || !Double.isFinite(fps) || fps > 1000) {
          throw ApiException.invalid(field + ".frames.fps", "must be in (0, 1000], got " + fps);
        }
        if (f.getImagesCount() == 0) {
          throw ApiException.invalid(field + ".frames.images", "must hold at least one image");
        }
        yield inline(DecodedMedia.Kind.FRAMES, f.getImagesList(), fps);
      }
      case SOURCE_NOT_SET ->
          throw ApiException.invalid(
              field, "must set media_id, video_bytes, image_bytes or frames");
    };
  }

  private GenerationJob.Media inline(DecodedMedia.Kind kind, List<ByteString> chunks, double fps) {
    CompletableFuture<dev.llavast.server.media.MediaStore.StoredMedia> stored =
        store
            .putInlineAsync(
                Tenants.current(),
                kind,
                chunks.stream().map(ByteString::asReadOnlyByteBuffer).toList(),
                fps,
                probe,
                probePool)
            .exceptionallyCompose(e -> CompletableFuture.failedFuture(inlineError(e)));
    return new GenerationJob.Media(kind, stored);
  }

  /**
   * The store refuses an oversized upload in progress with RESOURCE_EXHAUSTED; media inline in a
   * request is simply an invalid argument (errors.proto, MEDIA_TOO_LARGE).
   */
  private static Throwable inlineError(Throwable t) {
    Throwable e = dev.llavast.server.media.MediaErrors.unwrap(t);
    if (e instanceof ApiException api
        && api.kind() == Reason.Kind.RESOURCE_EXHAUSTED
        && api.reason() == Reason.MEDIA_TOO_LARGE) {
      return ApiException.builder(Reason.MEDIA_TOO_LARGE, "inline media: " + api.getMessage())
          .metadata("limit_bytes", api.metadata().getOrDefault("limit_bytes", ""))
          .build();
    }
    return e;
  }
}

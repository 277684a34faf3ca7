package dev.llavast.server.grpc;

import dev.llavast.api.v1.DeleteMediaRequest;
import dev.llavast.api.v1.DeleteMediaResponse;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.UploadHeader;
import dev.llavast.api.v1.UploadMediaRequest;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.media.FeatureCache;
import dev.llavast.server.media.MediaPipeline;
import dev.llavast.server.media.MediaStore;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.tenancy.Tenant;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code MediaService}: uploads into the {@link MediaStore} (streamed, hashed and size-checked as
 * chunks arrive; probed when the stream ends), lookup and deletion (which also drops the media's
 * cached features).
 *
 * <p>Handlers run on gRPC's handler executor; one upload's messages are serialized by gRPC. The
 * probe (a real decode) runs on {@code probeExecutor}, a bounded CPU pool, never on a handler
 * thread. A client that cancels mid-upload leaves no file behind. Thread-safe.
 */
final class MediaServiceImpl extends MediaServiceGrpc.MediaServiceImplBase {
  private static final Logger log = LoggerFactory.getLogger(MediaServiceImpl.class);
  private static final Pattern MEDIA_ID = Pattern.compile("sha256:[0-9a-f]{64}");
  static final int MAX_LABEL_CHARS = 256;

  private final MediaStore store;
  private final MediaStore.MediaProbe probe;
  private final Executor probeExecutor;
  private final int maxChunkBytes;
  private final long maxUploadBytes;
  private final Predicate<StoredMedia> featuresCached;
  private final java.util.function.ToLongBiFunction<Tenant, String> invalidateFeatures;

  /**
   * @param probeExecutor bounded CPU pool for probes (a full pool answers RESOURCE_EXHAUSTED)
   * @param pipeline gives features_cached and drops cached features on delete
   */
  MediaServiceImpl(
      int maxChunkBytes,
      long maxUploadBytes,
      MediaStore store,
      MediaStore.MediaProbe probe,
      Executor probeExecutor,
      MediaPipeline pipeline) {
    this(
        maxChunkBytes,
        maxUploadBytes,
        store,
        probe,
        probeExecutor,
        m -> pipeline.hasCachedFeatures(m.tenant(), m.mediaId()),
        pipeline::invalidate);
  }

  /**
   * Without a pipeline object: {@code features} is the cache the pipeline uses (keys under the
   * media id, as {@link MediaPipeline#keyPrefix} makes them for the open tenant).
   */
  MediaServiceImpl(
      int maxChunkBytes,
      long maxUploadBytes,
      MediaStore store,
      MediaStore.MediaProbe probe,
      Executor probeExecutor,
      FeatureCache features) {
    this(
        maxChunkBytes,
        maxUploadBytes,
        store,
        probe,
        probeExecutor,
        m -> features.containsPrefix(m.tenant().scope(m.mediaId()) + "/"),
        (tenant, id) -> features.invalidatePrefix(tenant.scope(id) + "/"));
  }

  private MediaServiceImpl(
      int maxChunkBytes,
      long maxUploadBytes,
      MediaStore store,
      MediaStore.MediaProbe probe,
      Executor probeExecutor,
      Predicate<StoredMedia> featuresCached,
      java.util.function.ToLongBiFunction<Tenant, String> invalidateFeatures) {
    this.store = Objects.requireNonNull(store, "store");
    this.probe = Objects.requireNonNull(probe, "probe");
    this.probeExecutor = Objects.requireNonNull(probeExecutor, "probeExecutor");
    this.maxChunkBytes = maxChunkBytes;
    this.maxUploadBytes = maxUploadBytes;
    this.featuresCached = featuresCached;
    this.invalidateFeatures = invalidateFeatures;
  }

  @Override
  public StreamObserver<UploadMediaRequest> uploadMedia(StreamObserver<MediaInfo> responses) {
    return new UploadCall((ServerCallStreamObserver<MediaInfo>) responses);
  }

  @Override
  public void getMedia(GetMediaRequest request, StreamObserver<MediaInfo> responses) {
    try {
      String id = checkId(request.getMediaId());
      StoredMedia m = store.get(Tenants.current(), id).orElseThrow(() -> notFound(id));
      responses.onNext(info(m, false));
      responses.onCompleted();
    } catch (RuntimeException e) {
      responses.onError(GrpcErrors.toStatus(e));
    }
  }

  @Override
  public void deleteMedia(
      DeleteMediaRequest request, StreamObserver<DeleteMediaResponse> responses) {
    try {
      String id = checkId(request.getMediaId());
      long stored = store.delete(Tenants.current(), id).orElseThrow(() -> notFound(id));
      long features = invalidateFeatures.applyAsLong(Tenants.current(), id);
      responses.onNext(
          DeleteMediaResponse.newBuilder().setReleasedBytes(stored + features).build());
      responses.onCompleted();
    } catch (RuntimeException e) {
      responses.onError(GrpcErrors.toStatus(e));
    }
  }

  /** Validates the {@code sha256:<64 lowercase hex>} form of a media id. */
  static String checkId(String id) {
    if (!isMediaId(id)) {
      String shown = id.length() > 80 ? id.substring(0, 80) + "..." : id;
      throw ApiException.invalid(
          "media_id",
          "must be \"sha256:\" followed by 64 lowercase hex digits, got \"" + shown + "\"");
    }
    return id;
  }

  /** True for the {@code sha256:<64 lowercase hex>} form of a media id. */
  static boolean isMediaId(String id) {
    return MEDIA_ID.matcher(id).matches();
  }

  /** NOT_FOUND / MEDIA_NOT_FOUND naming the id. */
  static ApiException notFound(String id) {
    return ApiException.builder(Reason.MEDIA_NOT_FOUND, "no media with id " + id)
        .metadata("media_id", id)
        .build();
  }

  private MediaInfo info(StoredMedia m, boolean fromThisUpload) {
    MediaStore.MediaMetadata meta = m.meta();
    return MediaInfo.newBuilder()
        .setMediaId(m.mediaId())
        .setKind(ProtoRequests.kind(m.kind()))
        .setLabel(m.label())
        .setSizeBytes(m.sizeBytes())
        .setDurationSeconds(meta.durationSeconds())
        .setFrameCount(meta.frameCount())
        .setFps(meta.fps())
        .setWidthPx(meta.widthPx())
        .setHeightPx(meta.heightPx())
        .setAlreadyPresent(fromThisUpload && m.alreadyPresent())
        .setFeaturesCached(featuresCached.test(m))
        .build();
  }

  /**
   * One UploadMedia call. gRPC calls onNext/onError/onCompleted one at a time; the probe's
   * completion runs on the probe pool after the last of them, so the state needs no lock.
   */
  private final class UploadCall implements StreamObserver<UploadMediaRequest> {
    private final ServerCallStreamObserver<MediaInfo> responses;
    private MediaStore.@Nullable Upload upload;
    private long expectedSize;
    // content bytes received (the chunks' sizes): what expected_size_bytes announces. Not
    // upload.size(), which also counts the 4-byte length the store puts before each frame.
    private long received;
    private boolean finished;

    UploadCall(ServerCallStreamObserver<MediaInfo> responses) {
      this.responses = responses;
    }

    @Override
    public void onNext(UploadMediaRequest request) {
      if (finished) {
        return;
      }
      try {
        if (upload == null) {
          start(request);
        } else if (request.hasHeader()) {
          throw invalid("header", "must be sent once, as the first message; got a second header");
        } else {
          int n = request.getChunk().size();
          if (n > maxChunkBytes) {
            throw invalid("chunk", "holds " + n + " bytes, over the limit of " + maxChunkBytes);
          }
          upload.append(request.getChunk().asReadOnlyByteBuffer());
          received += n;
          if (expectedSize > 0 && received > expectedSize) {
            throw invalid(
                "header.expected_size_bytes",
                "the upload sent "
                    + received
                    + " bytes, more than the "
                    + expectedSize
                    + " announced");
          }
        }
      } catch (ApiException e) {
        fail(GrpcErrors.toStatus(e));
      } catch (IOException | RuntimeException e) {
        log.warn("upload failed while storing a chunk", e);
        fail(
            GrpcErrors.toStatus(
                ApiException.of(
                    Reason.MODEL_FAILURE,
                    "could not store the upload; the server logged the details")));
      }
    }

    private void start(UploadMediaRequest request) throws IOException {
      if (!request.hasHeader()) {
        throw invalid(
            "header",
            "the first message of UploadMedia must carry the header, got " + request.getPartCase());
      }
      UploadHeader h = request.getHeader();
      MediaKind kind = h.getKind();
      if (kind != MediaKind.MEDIA_KIND_VIDEO
          && kind != MediaKind.MEDIA_KIND_IMAGE
          && kind != MediaKind.MEDIA_KIND_FRAMES) {
        throw invalid(
            "header.kind",
            "must be MEDIA_KIND_VIDEO, MEDIA_KIND_IMAGE or MEDIA_KIND_FRAMES, got " + kind);
      }
      double fps = h.getFramesFps();
      if (kind == MediaKind.MEDIA_KIND_FRAMES
          && (!(fps > 0) || !Double.isFinite(fps) || fps > 1000)) {
        throw invalid(
            "header.frames_fps", "must be in (0, 1000] for MEDIA_KIND_FRAMES, got " + fps);
      }
      if (h.getLabel().length() > MAX_LABEL_CHARS) {
        throw invalid(
            "header.label",
            "has " + h.getLabel().length() + " characters, over the limit of " + MAX_LABEL_CHARS);
      }
      long expected = h.getExpectedSizeBytes();
      if (expected < 0) {
        throw invalid("header.expected_size_bytes", "must be >= 0, got " + expected);
      }
      if (expected > maxUploadBytes) {
        throw ApiException.builder(
                Reason.MEDIA_TOO_LARGE,
                "expected_size_bytes "
                    + expected
                    + " is over the upload limit of "
                    + maxUploadBytes
                    + " bytes")
            .kind(Reason.Kind.RESOURCE_EXHAUSTED)
            .metadata("limit_bytes", Long.toString(maxUploadBytes))
            .build();
      }
      expectedSize = expected;
      upload =
          store.begin(
              Tenants.current(),
              ProtoRequests.kind(kind),
              h.getLabel(),
              kind == MediaKind.MEDIA_KIND_FRAMES ? fps : 0.0);
    }

    @Override
    public void onError(Throwable t) {
      // the client cancelled (or the transport failed): drop what was received
      finished = true;
      abortQuietly();
    }

    @Override
    public void onCompleted() {
      if (finished) {
        return;
      }
      finished = true;
      if (upload == null) {
        respondError(GrpcErrors.toStatus(invalid("header", "the stream ended without a header")));
        return;
      }
      if (expectedSize > 0 && received != expectedSize) {
        abortQuietly();
        respondError(
            GrpcErrors.toStatus(
                invalid(
                    "header.expected_size_bytes",
                    "the upload sent " + received + " bytes but announced " + expectedSize)));
        return;
      }
      MediaStore.Upload u = upload;
      CompletableFuture<StoredMedia> done;
      try {
        done =
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return u.finish(probe);
                  } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                  }
                },
                probeExecutor);
      } catch (RejectedExecutionException e) {
        abortQuietly();
        respondError(
            GrpcErrors.toStatus(
                ApiException.overloaded(
                    "too many uploads are being probed; retry later", Duration.ofSeconds(1))));
        return;
      }
      done.whenComplete(
          (m, e) -> {
            if (e != null) {
              abortQuietly();
              respondError(GrpcErrors.toStatus(e));
              return;
            }
            if (responses.isCancelled()) {
              return; // complete content is stored; nobody is listening for its id
            }
            try {
              responses.onNext(info(m, true));
              responses.onCompleted();
            } catch (RuntimeException late) {
              log.debug("upload response not delivered", late);
            }
          });
    }

    private void fail(StatusRuntimeException e) {
      finished = true;
      abortQuietly();
      respondError(e);
    }

    private void respondError(StatusRuntimeException e) {
      if (responses.isCancelled()) {
        return;
      }
      try {
        responses.onError(e);
      } catch (RuntimeException late) {
        log.debug("upload error not delivered", late);
      }
    }

    private void abortQuietly() {
      if (upload == null) {
        return;
      }
      try {
        upload.abort();
      } catch (RuntimeException e) {
        log.warn("could not remove a partial upload", e);
      }
    }
  }

  private static ApiException invalid(String field, String description) {
    return ApiException.invalid(field, description);
  }
}

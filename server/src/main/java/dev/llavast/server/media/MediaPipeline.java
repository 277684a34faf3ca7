package dev.llavast.server.media;

import dev.llavast.models.ModelConfig;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaKeys;
import dev.llavast.models.media.StageTimes;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.server.concurrent.DaemonThreads;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.Tenant;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Stored media to packed visual features, through the {@link FeatureCache}: a hit costs nothing; a
 * miss decodes and preprocesses on the bounded decode pool (per-frame resizing on the frame pool),
 * then submits ONE encode job to the scheduler. Concurrent requests for the same key share that one
 * load; a failed load is not cached; a caller that cancels its future never cancels the shared
 * load.
 *
 * <p>The cache value keeps, with the features, the {@link MediaGeometry} that prompts and
 * coordinate decoding need (original size, fps, clip, sampled frames), so a hit knows it without
 * decoding.
 *
 * <p>Thread-safe; {@link #resolve} may be called from any thread (it never blocks: all work runs on
 * the pools and the scheduler's workers).
 */
public final class MediaPipeline {
  private final MediaDecoder decoder;
  private final ImagePreprocessor preprocessor;
  private final Scheduler scheduler;
  private final FeatureCache cache;
  private final Executor decodePool;
  private final Executor framePool;
  private final Params params;
  private final Metrics metrics;

  /**
   * What, besides the content, determines the features: frames sampled per video, the vision
   * tower's input side, and the checkpoint whose encoder made them.
   *
   * @param numFrames frames sampled from a video or a frame sequence (100 for LLaVA-ST)
   * @param imageSize resize side in pixels (384)
   * @param packerVersion identifies the model/packer (e.g. checkpoint name and revision)
   * @param sharedCaches whether tenants share cached features (else each tenant's media has its own
   *     keys)
   */
  public record Params(int numFrames, int imageSize, String packerVersion, boolean sharedCaches) {
    public Params {
      if (numFrames < 1 || imageSize < 1) {
        throw new IllegalArgumentException(
            "numFrames and imageSize must be >= 1, got " + numFrames + ", " + imageSize);
      }
      Objects.requireNonNull(packerVersion, "packerVersion");
    }

    /** The model's own values: {@code num_frames} and {@code vision_config.image_size}. */
    public static Params of(ModelConfig config, String packerVersion) {
      return new Params(config.numFrames(), config.vision().imageSize(), packerVersion, false);
    }

    /** Parameters without per-tenant cache keys. */
    public Params(int numFrames, int imageSize, String packerVersion) {
      this(numFrames, imageSize, packerVersion, false);
    }

    /** The same parameters with the caches shared (or not) across tenants. */
    public Params withSharedCaches(boolean shared) {
      return new Params(numFrames, imageSize, packerVersion, shared);
    }
  }

  /**
   * The features of one request's media.
   *
   * @param mediaKey the cache key (media id + preprocessing parameters); also the features' key
   * @param features the packed features (immutable; safe to hold after eviction)
   * @param cacheHit true when this request started no decode and no encode
   * @param geometry how to map answers back to seconds and pixels
   * @param decodeTime decode + preprocess time of the load this request started (zero on a hit)
   * @param encodeTime submit-to-done time of the encode job this request started (zero on a hit)
   */
  public record Resolved(
      String mediaKey,
      MediaFeatures features,
      boolean cacheHit,
      MediaGeometry geometry,
      Duration decodeTime,
      Duration encodeTime) {}

  /** The cache value: features plus what the load learned. */
  public record Encoded(
      MediaFeatures features, MediaGeometry geometry, long decodeNanos, long encodeNanos)
      implements MediaFeatures {
    @Override
    public String mediaKey() {
      return features.mediaKey();
    }

    @Override
    public int tokenCount() {
      return features.tokenCount();
    }

    @Override
    public long bytes() {
      return features.bytes() + 4L * geometry.sampledIndices().length + 128;
    }
  }

  /**
   * @param decodePool runs one decode + preprocess per miss (bounded; blocks on frame-pool work, so
   *     it must not be the frame pool)
   * @param framePool runs per-frame resizing; its tasks never block
   */
  public MediaPipeline(
      MediaDecoder decoder,
      ImagePreprocessor preprocessor,
      Scheduler scheduler,
      FeatureCache cache,
      Executor decodePool,
      Executor framePool,
      Params params,
      Metrics metrics) {
    this.decoder = Objects.requireNonNull(decoder, "decoder");
    this.preprocessor = Objects.requireNonNull(preprocessor, "preprocessor");
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
    this.cache = Objects.requireNonNull(cache, "cache");
    this.decodePool = Objects.requireNonNull(decodePool, "decodePool");
    this.framePool = Objects.requireNonNull(framePool, "framePool");
    this.params = Objects.requireNonNull(params, "params");
    this.metrics = metrics;
    if (preprocessor.size() != params.imageSize()) {
      throw new IllegalArgumentException(
          "preprocessor size "
              + preprocessor.size()
              + " != params.imageSize "
              + params.imageSize());
    }
  }

  /**
   * The features of {@code media} over {@code clip}, from the cache or loaded once. Never blocks.
   * The returned future is the caller's own: cancelling it leaves the shared load running.
   *
   * @param clip the clip in seconds, or null for the whole media (ignored for an image)
   * @param preferredWorker the worker that should run the encode (e.g. the one holding the media's
   *     prefix), or empty
   * @return completes with the features, or fails with a {@link ApiException} for bad media
   *     (INVALID_ARGUMENT), deleted media (NOT_FOUND) or a full decode queue (RESOURCE_EXHAUSTED),
   *     or with the scheduler's exception when the encode fails
   */
  public CompletableFuture<Resolved> resolve(
      StoredMedia media, @Nullable ClipRange clip, OptionalInt preferredWorker) {
    Objects.requireNonNull(media, "media");
    Objects.requireNonNull(preferredWorker, "preferredWorker");
    @Nullable ClipRange effective = media.kind() == DecodedMedia.Kind.IMAGE ? null : clip;
    String key = mediaKey(media, effective);
    CompletableFuture<Resolved> out = new CompletableFuture<>();
    CompletableFuture<FeatureCache.Lookup> lookup;
    try {
      Clips.checkAgainst(media, effective);
      lookup = cache.get(key, k -> load(media, effective, k, preferredWorker));
    } catch (RuntimeException e) {
      out.completeExceptionally(MediaErrors.map(e));
      return out;
    }
    lookup.whenComplete(
        (l, e) -> {
          if (e != null) {
            out.completeExceptionally(MediaErrors.map(e));
            return;
          }
          Encoded enc = (Encoded) l.features();
          out.complete(
              new Resolved(
                  key,
                  enc.features(),
                  l.hit(),
                  enc.geometry(),
                  l.hit() ? Duration.ZERO : Duration.ofNanos(enc.decodeNanos()),
                  l.hit() ? Duration.ZERO : Duration.ofNanos(enc.encodeNanos())));
        });
    return out;
  }

  /**
   * The cache key: {@code <media id>/<MediaKeys hash>}. The media id is already the content's
   * SHA-256, so it stands in for the content instead of hashing the file again; the prefix lets
   * {@link #invalidate} drop every variant of one media.
   */
  public String mediaKey(StoredMedia media, @Nullable ClipRange clip) {
    DecodedMedia.Kind kind = media.kind();
    int frames = kind == DecodedMedia.Kind.IMAGE ? 1 : params.numFrames();
    MediaKeys.Params p =
        new MediaKeys.Params(
            kind,
            frames,
            params.imageSize(),
            kind == DecodedMedia.Kind.IMAGE ? null : clip,
            params.packerVersion());
    return keyPrefix(media.tenant(), media.mediaId())
        + MediaKeys.of(media.mediaId().getBytes(StandardCharsets.US_ASCII), p);
  }

  /**
   * Prefix shared by every cache key of one tenant's media id. Keys are per tenant unless the
   * caches are shared: a hit's speed would otherwise tell a tenant what another one asked about
   * (and the prefix KV cache follows the features' key).
   */
  public String keyPrefix(Tenant tenant, String mediaId) {
    return (params.sharedCaches() ? mediaId : tenant.scope(mediaId)) + "/";
  }

  /** Drops every cached variant of a tenant's media item; returns the host bytes released. */
  public long invalidate(Tenant tenant, String mediaId) {
    return cache.invalidatePrefix(keyPrefix(tenant, mediaId));
  }

  /** True if some features of this tenant's media are cached now. */
  public boolean hasCachedFeatures(Tenant tenant, String mediaId) {
    return cache.containsPrefix(keyPrefix(tenant, mediaId));
  }

  // ---------------------------------------------------------------- the load (one per key)

  private CompletableFuture<MediaFeatures> load(
      StoredMedia media, @Nullable ClipRange clip, String key, OptionalInt preferredWorker) {
    CompletableFuture<Decoded> decoded;
    try {
      decoded = CompletableFuture.supplyAsync(() -> decode(media, clip, key), decodePool);
    } catch (RejectedExecutionException e) {
      return CompletableFuture.failedFuture(
          ApiException.overloaded(
              "the media decode queue is full; retry later", Duration.ofSeconds(1)));
    }
    return decoded.thenCompose(
        d -> {
          long t0 = System.nanoTime();
          return scheduler
              .encode(d.prepared().pixels(), preferredWorker)
              .thenApply(
                  f -> {
                    long encodeNanos = System.nanoTime() - t0;
                    metrics.visionEncode.observe(encodeNanos / 1e9);
                    ImagePreprocessor.Prepared p = d.prepared();
                    return (MediaFeatures)
                        new Encoded(
                            f,
                            MediaGeometry.of(p.kind(), p.sampling()),
                            d.decodeNanos(),
                            encodeNanos);
                  });
        });
  }

  private record Decoded(ImagePreprocessor.Prepared prepared, long decodeNanos) {}

  /** Decode pool thread: decodes and preprocesses; blocking. */
  private Decoded decode(StoredMedia media, @Nullable ClipRange clip, String key) {
    long t0 = System.nanoTime();
    StageTimes stages = new StageTimes();
    ImagePreprocessor.Prepared p =
        switch (media.kind()) {
          case VIDEO ->
              preprocessor.prepareVideo(
                  decoder, media.file(), params.numFrames(), clip, key, framePool, stages);
          case IMAGE -> preprocessor.prepare(decoder.decodeImage(media.file()), key, framePool);
          case FRAMES ->
              preprocessor.prepareFrames(
                  decoder,
                  readFrames(media),
                  media.meta().fps(),
                  params.numFrames(),
                  clip,
                  key,
                  framePool,
                  stages);
        };
    long nanos = System.nanoTime() - t0;
    metrics.mediaDecode.observe(nanos / 1e9);
    metrics.mediaStages(stages);
    return new Decoded(p, nanos);
  }

  private static List<byte[]> readFrames(StoredMedia media) {
    try {
      return MediaStore.readFrames(media.file());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read stored frames of " + media.mediaId(), e);
    }
  }

  // ---------------------------------------------------------------- pools

  /**
   * A pool for decodes: {@code threads} threads, at most {@code queue} waiting loads; beyond that a
   * miss fails with RESOURCE_EXHAUSTED instead of queueing without bound. Its threads (and the
   * FFmpeg threads they start) run at nice value {@code nice} (0: normal priority).
   */
  public static ExecutorService newDecodePool(int threads, int queue, int nice) {
    return new ThreadPoolExecutor(
        threads,
        threads,
        60,
        TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(queue),
        DaemonThreads.factory("llavast-media-decode", nice),
        new ThreadPoolExecutor.AbortPolicy());
  }

  /**
   * A pool for per-frame resizing; when its queue is full the submitting (decode) thread does the
   * work itself, so it never rejects and never deadlocks. Its threads run at nice value {@code
   * nice}.
   */
  public static ExecutorService newFramePool(int threads, int nice) {
    return new ThreadPoolExecutor(
        threads,
        threads,
        60,
        TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(threads * 64),
        DaemonThreads.factory("llavast-media-frame", nice),
        new ThreadPoolExecutor.CallerRunsPolicy());
  }
}

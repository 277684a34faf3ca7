package dev.llavast.server.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.llavast.models.PixelFrames;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.media.MediaPipeline.Resolved;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.Tenant;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * MediaPipeline over a real MediaStore, real decoder and a real Scheduler with a counting fake
 * model.
 */
@Timeout(120)
class MediaPipelineTest {
  private static final int FRAMES = 5;
  private static final int SIZE = 32;

  @TempDir Path dir;
  private final MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
  private final CountingModelExecutor model = new CountingModelExecutor();
  private final AtomicInteger decodes = new AtomicInteger();
  private Metrics metrics;
  private Scheduler scheduler;
  private ExecutorService decodePool;
  private ExecutorService framePool;
  private ExecutorService cacheExecutor;
  private MediaStore store;
  private FeatureCache cache;
  private MediaPipeline pipeline;

  @BeforeEach
  void setUp() throws Exception {
    metrics = new Metrics(new PrometheusRegistry());
    scheduler = Scheduler.builder().addExecutor(model).kvBlocks(64).blockSize(16).build();
    decodePool = MediaPipeline.newDecodePool(2, 16, 0);
    framePool = MediaPipeline.newFramePool(2, 0);
    cacheExecutor = Executors.newFixedThreadPool(2);
    store = new MediaStore(Optional.of(dir.resolve("media")), 64 << 20);
    cache = new FeatureCache(64 << 20, cacheExecutor, metrics);
    pipeline =
        new MediaPipeline(
            decoder,
            new ImagePreprocessor(SIZE, 4),
            scheduler,
            cache,
            r -> {
              decodes.incrementAndGet();
              decodePool.execute(r);
            },
            framePool,
            new MediaPipeline.Params(FRAMES, SIZE, "test-packer-1"),
            metrics);
  }

  @AfterEach
  void tearDown() throws Exception {
    scheduler.close();
    decodePool.shutdownNow();
    framePool.shutdownNow();
    cacheExecutor.shutdownNow();
    store.close();
  }

  private StoredMedia video(int frames, double fps) throws Exception {
    Path f = MediaTestFiles.movingSquare(dir.resolve("v" + frames + ".mp4"), 64, 48, frames, fps);
    return store.putInline(
        Tenant.OPEN,
        DecodedMedia.Kind.VIDEO,
        List.of(ByteBuffer.wrap(Files.readAllBytes(f))),
        0,
        new DecoderProbe(decoder));
  }

  private static Resolved join(CompletableFuture<Resolved> f) throws Exception {
    return f.get(60, TimeUnit.SECONDS);
  }

  @Test
  void eightConcurrentRequestsForOneNewVideoShareOneDecodeAndOneEncode() throws Exception {
    StoredMedia v = video(30, 10);
    model.encodeDelayMillis = 300; // the load is still running when every request has asked
    int n = 8;
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService callers = Executors.newFixedThreadPool(n);
    List<CompletableFuture<Resolved>> futures = new ArrayList<>();
    try {
      List<java.util.concurrent.Future<CompletableFuture<Resolved>>> submitted = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        submitted.add(
            callers.submit(
                () -> {
                  go.await();
                  return pipeline.resolve(v, null, OptionalInt.empty());
                }));
      }
      go.countDown();
      for (var s : submitted) {
        futures.add(s.get(30, TimeUnit.SECONDS));
      }
    } finally {
      callers.shutdown();
    }
    List<Resolved> results = new ArrayList<>();
    for (var f : futures) {
      results.add(join(f));
    }
    assertThat(decodes).as("decodes").hasValue(1);
    assertThat(model.encodes).as("encodes").hasValue(1);
    assertThat(results.stream().filter(r -> !r.cacheHit()).count())
        .as("requests that started the load")
        .isEqualTo(1);
    assertThat(results)
        .allSatisfy(r -> assertThat(r.features()).isSameAs(results.get(0).features()));
    assertThat(metrics.mediaDecode.collect().getDataPoints().get(0).getCount()).isEqualTo(1);
    assertThat(metrics.visionEncode.collect().getDataPoints().get(0).getCount()).isEqualTo(1);
    assertThat(metrics.featureCacheRequests.labelValues("miss").get()).isEqualTo(1.0);
    assertThat(metrics.featureCacheRequests.labelValues("hit").get()).isEqualTo(7.0);
    // the stages of the one load: every frame up to the last sampled one decoded, the 5 sampled
    // ones converted and resized
    assertThat(metrics.mediaStageFrames.labelValues("decode").get()).isEqualTo(30.0);
    assertThat(metrics.mediaStageFrames.labelValues("convert").get()).isEqualTo(5.0);
    assertThat(metrics.mediaStageFrames.labelValues("resize").get()).isEqualTo(5.0);
    assertThat(metrics.mediaStageCpu.labelValues("decode").get()).isPositive();

    Resolved miss = results.stream().filter(r -> !r.cacheHit()).findFirst().orElseThrow();
    assertThat(miss.decodeTime()).isPositive();
    assertThat(miss.encodeTime().toMillis()).isGreaterThanOrEqualTo(300);
    // 30 frames at 10 fps, 5 sampled over [0, 29]: f_i = rint(i/4 * 29) = 0, 7.25->7, 14.5->14
    // (half-even), 21.75->22, 29
    MediaGeometry g = miss.geometry();
    assertThat(g.video()).isTrue();
    assertThat(g.widthPx()).isEqualTo(64);
    assertThat(g.heightPx()).isEqualTo(48);
    assertThat(g.fps()).isEqualTo(10.0);
    assertThat(g.frameCount()).isEqualTo(30);
    assertThat(g.durationSeconds()).isCloseTo(3.0, org.assertj.core.data.Offset.offset(0.11));
    assertThat(g.clipStartFrame()).isZero();
    assertThat(g.clipEndFrame()).isEqualTo(29);
    assertThat(g.clipFrameCount()).isEqualTo(30);
    assertThat(g.sampledIndices()).containsExactly(0, 7, 14, 22, 29);

    PixelFrames given = model.encoded.get(0);
    assertThat(given.video()).isTrue();
    assertThat(given.frames()).isEqualTo(FRAMES);
    assertThat(given.size()).isEqualTo(SIZE);
    assertThat(given.mediaKey()).isEqualTo(miss.mediaKey()).startsWith(v.mediaId() + "/");
    assertThat(miss.features().tokenCount()).isEqualTo(FRAMES);

    // later: a plain hit, nothing decoded or encoded again, same geometry
    Resolved again = join(pipeline.resolve(v, null, OptionalInt.of(0)));
    assertThat(again.cacheHit()).isTrue();
    assertThat(again.features()).isSameAs(miss.features());
    assertThat(again.geometry().sampledIndices()).containsExactly(0, 7, 14, 22, 29);
    assertThat(again.decodeTime()).isZero();
    assertThat(decodes).hasValue(1);
    assertThat(model.encodes).hasValue(1);
  }

  @Test
  void aClipIsItsOwnKeyAndMapsSecondsToFrames() throws Exception {
    StoredMedia v = video(30, 10);
    Resolved whole = join(pipeline.resolve(v, null, OptionalInt.empty()));
    ClipRange clip = Clips.of(1.0, 2.0, "clip");
    Resolved r = join(pipeline.resolve(v, clip, OptionalInt.empty()));
    assertThat(r.cacheHit()).isFalse();
    assertThat(r.mediaKey()).isNotEqualTo(whole.mediaKey());
    // s = rint(1.0*10) = 10, e = 20, D = 11; f_i = 10 + rint(i/4 * 10) = 10, 12 (2.5->2), 15, 18
    // (7.5->8), 20
    assertThat(r.geometry().clipStartFrame()).isEqualTo(10);
    assertThat(r.geometry().clipEndFrame()).isEqualTo(20);
    assertThat(r.geometry().clipFrameCount()).isEqualTo(11);
    assertThat(r.geometry().sampledIndices()).containsExactly(10, 12, 15, 18, 20);
    assertThat(r.geometry().clipStartSeconds()).isEqualTo(1.0);
    assertThat(decodes).hasValue(2);
    assertThat(model.encodes).hasValue(2);

    // end 0 means "to the end": s = 20, e = 29
    Resolved tail = join(pipeline.resolve(v, Clips.of(2.0, 0, "clip"), OptionalInt.empty()));
    assertThat(tail.geometry().clipStartFrame()).isEqualTo(20);
    assertThat(tail.geometry().clipEndFrame()).isEqualTo(29);
    // both ends 0: the whole media, the same key as no clip
    assertThat(Clips.of(0, 0, "clip")).isNull();
    assertThat(join(pipeline.resolve(v, clip, OptionalInt.empty())).cacheHit()).isTrue();
  }

  @Test
  void aClipOutsideTheVideoOrReversedIsInvalidArgumentOnTheClipField() throws Exception {
    StoredMedia v = video(30, 10);
    CompletableFuture<Resolved> outside =
        pipeline.resolve(v, ClipRange.seconds(5.0, 6.0), OptionalInt.empty());
    assertThat(outside).as("refused before any decoding").isCompletedExceptionally();
    Throwable t = catchThrowable(() -> join(outside));
    ApiException e = (ApiException) (t instanceof ExecutionException ? t.getCause() : t);
    assertThat(e.reason()).isEqualTo(Reason.INVALID_REQUEST);
    assertThat(e.violations().get(0).field()).isEqualTo("clip");
    assertThat(e.getMessage())
        .contains("frame 50")
        .contains("29")
        .contains("30 frames at 10.0 fps");
    assertThat(model.encodes).hasValue(0);
    assertThat(decodes).hasValue(0);

    ApiException reversed = (ApiException) catchThrowable(() -> Clips.of(3, 1, "clip_range"));
    assertThat(reversed.reason()).isEqualTo(Reason.INVALID_REQUEST);
    assertThat(reversed.violations().get(0).field()).isEqualTo("clip_range.end_seconds");
    // one rule for every request: an empty clip (end == start) is refused like a reversed one
    ApiException empty = (ApiException) catchThrowable(() -> Clips.of(2, 2, "clip"));
    assertThat(empty.violations().get(0).field()).isEqualTo("clip.end_seconds");
    assertThat(empty.violations().get(0).description()).contains("greater than start_seconds 2.0");
    ApiException nan = (ApiException) catchThrowable(() -> Clips.of(Double.NaN, 0, "clip"));
    assertThat(nan.violations().get(0).field()).isEqualTo("clip.start_seconds");
  }

  @Test
  void imageIsOneFrameNormalizedAndIgnoresTheClip() throws Exception {
    StoredMedia img =
        store.putInline(
            Tenant.OPEN,
            DecodedMedia.Kind.IMAGE,
            List.of(ByteBuffer.wrap(MediaTestFiles.png(40, 30, 200, 100, 50))),
            0,
            new DecoderProbe(decoder));
    Resolved r = join(pipeline.resolve(img, null, OptionalInt.empty()));
    MediaGeometry g = r.geometry();
    assertThat(g.video()).isFalse();
    assertThat(g.widthPx()).isEqualTo(40);
    assertThat(g.heightPx()).isEqualTo(30);
    assertThat(g.fps()).isZero();
    assertThat(g.sampledIndices()).containsExactly(0);
    assertThat(g.clipFrameCount()).isEqualTo(1);
    PixelFrames p = model.encoded.get(0);
    assertThat(p.video()).isFalse();
    assertThat(p.frames()).isEqualTo(1);
    int plane = SIZE * SIZE;
    // a solid colour stays solid through the resize; (x/255 - 0.5)/0.5 per channel, channel-first
    assertThat(p.pixels()[0])
        .isCloseTo(200 / 127.5f - 1, org.assertj.core.data.Offset.offset(1e-6f));
    assertThat(p.pixels()[plane + 5])
        .isCloseTo(100 / 127.5f - 1, org.assertj.core.data.Offset.offset(1e-6f));
    assertThat(p.pixels()[2 * plane + plane - 1])
        .isCloseTo(50 / 127.5f - 1, org.assertj.core.data.Offset.offset(1e-6f));

    Resolved withClip = join(pipeline.resolve(img, ClipRange.seconds(1, 2), OptionalInt.empty()));
    assertThat(withClip.cacheHit()).isTrue();
    assertThat(withClip.mediaKey()).isEqualTo(r.mediaKey());
  }

  @Test
  void framesAreSampledLikeAVideo() throws Exception {
    int[][] colours = {{10, 20, 30}, {100, 110, 120}, {240, 230, 220}};
    StoredMedia frames;
    MediaStore.Upload up = store.begin(Tenant.OPEN, DecodedMedia.Kind.FRAMES, "f", 2.0);
    for (int[] c : colours) {
      up.append(ByteBuffer.wrap(MediaTestFiles.png(20, 10, c[0], c[1], c[2])));
    }
    frames = up.finish(new DecoderProbe(decoder));
    assertThat(frames.meta().frameCount()).isEqualTo(3);
    assertThat(frames.meta().durationSeconds()).isEqualTo(1.5);

    Resolved r = join(pipeline.resolve(frames, null, OptionalInt.empty()));
    // N = 3 frames, 5 sampled over [0, 2]: rint(i/4 * 2) = 0, 0 (0.5->0), 1, 2 (1.5->2), 2
    assertThat(r.geometry().sampledIndices()).containsExactly(0, 0, 1, 2, 2);
    assertThat(r.geometry().fps()).isEqualTo(2.0);
    assertThat(r.geometry().video()).isTrue();
    PixelFrames p = model.encoded.get(0);
    int per = 3 * SIZE * SIZE;
    int[] expectedSource = {0, 0, 1, 2, 2};
    for (int i = 0; i < FRAMES; i++) {
      assertThat(p.pixels()[i * per])
          .as("slot %d, red", i)
          .isCloseTo(
              colours[expectedSource[i]][0] / 127.5f - 1,
              org.assertj.core.data.Offset.offset(1e-6f));
    }
  }

  @Test
  void aFailedLoadIsNotCachedAndTheNextRequestTriesAgain() throws Exception {
    StoredMedia garbage =
        store.putInline(
            Tenant.OPEN,
            DecodedMedia.Kind.VIDEO,
            List.of(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})),
            0,
            (kind, file, fps) ->
                new MediaStore.MediaMetadata(1, 10, 10, 64, 48)); // a probe that lets anything in
    for (int attempt = 1; attempt <= 2; attempt++) {
      Throwable t =
          catchThrowable(() -> join(pipeline.resolve(garbage, null, OptionalInt.empty())));
      assertThat(t).isInstanceOf(ExecutionException.class);
      ApiException e = (ApiException) t.getCause();
      assertThat(e.reason()).isEqualTo(Reason.MEDIA_INVALID);
      assertThat(decodes).hasValue(attempt);
    }
    assertThat(model.encodes).hasValue(0);
    assertThat(pipeline.hasCachedFeatures(Tenant.OPEN, garbage.mediaId())).isFalse();

    StoredMedia v = video(10, 10);
    model.failEncode = true;
    Throwable t = catchThrowable(() -> join(pipeline.resolve(v, null, OptionalInt.empty())));
    assertThat(t).hasRootCauseInstanceOf(dev.llavast.scheduler.ExecutorException.class);
    model.failEncode = false;
    Resolved r = join(pipeline.resolve(v, null, OptionalInt.empty()));
    assertThat(r.cacheHit()).isFalse();
    assertThat(model.encodes).hasValue(2);
  }

  @Test
  void aWaiterThatCancelsNeverCancelsTheSharedLoad() throws Exception {
    StoredMedia v = video(10, 10);
    model.encodeDelayMillis = 300;
    CompletableFuture<Resolved> first = pipeline.resolve(v, null, OptionalInt.empty());
    assertThat(first.cancel(true)).isTrue();
    Resolved second = join(pipeline.resolve(v, null, OptionalInt.empty()));
    assertThat(second.cacheHit()).as("joined the load the first request started").isTrue();
    assertThat(decodes).hasValue(1);
    assertThat(model.encodes).hasValue(1);
    assertThat(pipeline.hasCachedFeatures(Tenant.OPEN, v.mediaId())).isTrue();
  }

  @Test
  void invalidateDropsEveryVariantAndReportsTheBytes() throws Exception {
    StoredMedia v = video(10, 10);
    join(pipeline.resolve(v, null, OptionalInt.empty()));
    join(pipeline.resolve(v, ClipRange.seconds(0.2, 0.5), OptionalInt.empty()));
    assertThat(pipeline.hasCachedFeatures(Tenant.OPEN, v.mediaId())).isTrue();
    // each entry: 16 B per token x 5 tokens + 4 B per sampled index x 5 + 128 B of geometry
    assertThat(pipeline.invalidate(Tenant.OPEN, v.mediaId())).isEqualTo(2 * (16 * 5 + 4 * 5 + 128));
    assertThat(pipeline.hasCachedFeatures(Tenant.OPEN, v.mediaId())).isFalse();
    assertThat(join(pipeline.resolve(v, null, OptionalInt.empty())).cacheHit()).isFalse();
    assertThat(decodes).hasValue(3);
  }
}

package dev.llavast.server.media;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.llavast.models.LlavaSt;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.scheduler.Scheduler;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** MediaPipeline with the real tiny LLaVA-ST model (random weights) as the scheduler's executor. */
@Timeout(240)
class MediaPipelineModelTest {
  @TempDir Path dir;

  @Test
  void realModelEncodesAVideoOnceForConcurrentRequestsAndAnImage() throws Exception {
    Path ckpt = dir.resolve("tiny");
    TinyCheckpoints.write(ckpt, TinyCheckpoints.Preset.TINY, 7);
    Metrics metrics = new Metrics(new PrometheusRegistry());
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    ExecutorService decodePool = MediaPipeline.newDecodePool(2, 8, 0);
    ExecutorService framePool = MediaPipeline.newFramePool(2, 0);
    ExecutorService cacheExec = java.util.concurrent.Executors.newSingleThreadExecutor();
    try (LlavaSt model = LlavaSt.open(ckpt);
        Scheduler scheduler =
            Scheduler.builder()
                .addExecutor(model.newExecutor(Device.cpu(), false, 2))
                .kvBlocks(64)
                .blockSize(16)
                .build();
        MediaStore store = new MediaStore(Optional.of(dir.resolve("media")), 16 << 20)) {
      FeatureCache cache = new FeatureCache(256 << 20, cacheExec, metrics);
      MediaPipeline.Params params = MediaPipeline.Params.of(model.config(), "tiny-seed-7");
      assertThat(params.numFrames()).isEqualTo(100);
      assertThat(params.imageSize()).isEqualTo(384);
      MediaPipeline pipeline =
          new MediaPipeline(
              decoder,
              new ImagePreprocessor(params.imageSize(), 8),
              scheduler,
              cache,
              decodePool,
              framePool,
              params,
              metrics);

      byte[] video =
          Files.readAllBytes(MediaTestFiles.movingSquare(dir.resolve("sq.mp4"), 64, 48, 30, 10));
      StoredMedia v =
          store.putInline(
              Tenant.OPEN,
              DecodedMedia.Kind.VIDEO,
              List.of(ByteBuffer.wrap(video)),
              0,
              new DecoderProbe(decoder));
      List<CompletableFuture<Resolved>> futures = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        futures.add(pipeline.resolve(v, null, OptionalInt.empty()));
      }
      List<Resolved> results = new ArrayList<>();
      for (var f : futures) {
        results.add(f.get(180, TimeUnit.SECONDS));
      }
      // 100 frames -> STP slow path: 20 frames x 81 tokens = 1620 LLM positions (spec)
      assertThat(results)
          .allSatisfy(
              r -> {
                assertThat(r.features().tokenCount()).isEqualTo(1620);
                assertThat(r.features()).isSameAs(results.get(0).features());
              });
      assertThat(results.stream().filter(r -> !r.cacheHit()).count()).isEqualTo(1);
      assertThat(metrics.mediaDecode.collect().getDataPoints().get(0).getCount()).isEqualTo(1);
      assertThat(metrics.visionEncode.collect().getDataPoints().get(0).getCount()).isEqualTo(1);
      // 30 frames, 100 sampled over [0, 29]: f_i = rint(i/99 * 29); the last is 29, the 50th
      // rint(49/99*29) = 14
      assertThat(results.get(0).geometry().sampledIndices()).hasSize(100);
      assertThat(results.get(0).geometry().sampledIndices()[99]).isEqualTo(29);
      assertThat(results.get(0).geometry().sampledIndices()[49]).isEqualTo(14);

      StoredMedia img =
          store.putInline(
              Tenant.OPEN,
              DecodedMedia.Kind.IMAGE,
              List.of(ByteBuffer.wrap(MediaTestFiles.png(50, 40, 10, 200, 30))),
              0,
              new DecoderProbe(decoder));
      Resolved ri = pipeline.resolve(img, null, OptionalInt.of(0)).get(120, TimeUnit.SECONDS);
      assertThat(ri.features().tokenCount()).isEqualTo(729); // (384 / 14)^2 = 27^2
      assertThat(ri.geometry().video()).isFalse();
      assertThat(cache.entries()).isEqualTo(2);
    } finally {
      decodePool.shutdownNow();
      framePool.shutdownNow();
      cacheExec.shutdownNow();
    }
  }
}

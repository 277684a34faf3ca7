package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.lape.Lape;
import dev.llavast.models.nn.Weights;
import dev.llavast.models.projector.Projector;
import dev.llavast.models.siglip.SiglipEncoder;
import dev.llavast.scheduler.ExecutorException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class EncodeTest {
  static final LlavaStModel.ValueTokenIds IDS =
      new LlavaStModel.ValueTokenIds(54, 55, 56, 57, 58, 59);

  /** One torch thread: the build host is a shared 2-core machine. */
  static final LlavaStModel.Options TEST_OPTIONS =
      new LlavaStModel.Options(IDS, false, 10, null, 1);

  final ModelConfig cfg = RandomWeights.tinyConfig();
  final RandomWeights rw = new RandomWeights(cfg, 77L);
  final int s = cfg.vision().imageSize();

  float[] pixels(int frames, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[frames * 3 * s * s];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return a;
  }

  /** Full geometry: 100 frames -> 1 620 slow tokens (about a minute of CPU: slow-tagged). */
  @Test
  @org.junit.jupiter.api.Tag("slow")
  void videoGivesTheSlowStreamAndChunkingDoesNotChangeIt() {
    checkVideo(cfg, rw, 100, 1620, 7, 25);
  }

  /**
   * Same path on 10 frames and a 1-layer tower (2 frame groups x 81 tokens), fast enough for every
   * build.
   */
  @Test
  void shortVideoChunkingDoesNotChangeTheSlowStream() {
    ModelConfig.VisionConfig v = cfg.vision();
    ModelConfig small =
        new ModelConfig(
            cfg.hiddenSize(),
            cfg.numHiddenLayers(),
            cfg.numAttentionHeads(),
            cfg.numKeyValueHeads(),
            cfg.intermediateSize(),
            cfg.rmsNormEps(),
            cfg.ropeTheta(),
            cfg.vocabSize(),
            cfg.maxPositionEmbeddings(),
            false,
            cfg.mmHiddenSize(),
            new ModelConfig.VisionConfig(
                v.hiddenSize(),
                v.intermediateSize(),
                1,
                1,
                v.imageSize(),
                v.patchSize(),
                v.layerNormEps()),
            cfg.stpEmbedDim(),
            cfg.stpNumHeads(),
            10,
            100,
            "float32");
    checkVideo(small, new RandomWeights(small, 78L), 10, 162, 3, 10);
  }

  void checkVideo(ModelConfig c, RandomWeights w, int frames, int tokens, int chunkA, int chunkB) {
    PixelFrames video = new PixelFrames("v", true, frames, s, pixels(frames, 1));
    LlavaStModel.Features a;
    LlavaStModel.Features b;
    try (LlavaStModel m =
        new LlavaStModel(
            c, w, Device.cpu(), new LlavaStModel.Options(IDS, false, chunkA, null, 1))) {
      int baseline = m.liveArrayCount();
      a = (LlavaStModel.Features) m.encode(video);
      assertThat(m.liveArrayCount()).isEqualTo(baseline);
    }
    try (LlavaStModel m =
        new LlavaStModel(
            c, w, Device.cpu(), new LlavaStModel.Options(IDS, false, chunkB, null, 1))) {
      b = (LlavaStModel.Features) m.encode(video);
    }
    assertThat(a.tokenCount()).isEqualTo(tokens);
    assertThat(a.video()).isTrue();
    assertThat(a.data()).hasSize(tokens * c.hiddenSize());
    assertThat(a.bytes()).isEqualTo(4L * tokens * c.hiddenSize());
    double worst = 0;
    for (int i = 0; i < a.data().length; i++) {
      assertThat(Float.isFinite(a.data()[i])).as("feature %d = %s", i, a.data()[i]).isTrue();
      worst = Math.max(worst, Math.abs(a.data()[i] - b.data()[i]));
    }
    assertThat(worst).isLessThan(1e-5);
  }

  @Test
  void imageIsSiglipProjectorAndLapeRowZeroWithoutStp() {
    float[] px = pixels(1, 2);
    LlavaStModel.Features f;
    try (LlavaStModel m = new LlavaStModel(cfg, rw, Device.cpu(), TEST_OPTIONS)) {
      f = (LlavaStModel.Features) m.encode(new PixelFrames("i", false, 1, s, px));
      assertThatThrownBy(() -> m.encode(new PixelFrames("bad", true, 3, s, pixels(3, 3))))
          .isInstanceOf(ExecutorException.class)
          .hasMessageContaining("3 frames")
          .hasMessageContaining("100 frames");
    }
    assertThat(f.tokenCount()).isEqualTo(729);
    assertThat(f.video()).isFalse();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      Weights w = new Weights(rw, m, DataType.FLOAT32);
      SiglipEncoder sig = SiglipEncoder.load(cfg, w);
      Projector proj = Projector.load(cfg, w);
      Lape lape = Lape.load(cfg, w);
      NDArray v = sig.forward(m.create(px, new Shape(1, 3, s, s)), m);
      float[] want = lape.inject(proj.forward(v), 0).toFloatArray();
      assertThat(f.data()).containsExactly(want);
    }
  }
}

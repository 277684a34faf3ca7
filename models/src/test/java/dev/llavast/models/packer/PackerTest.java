package dev.llavast.models.packer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.JavaNn;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.RandomWeights;
import dev.llavast.models.nn.Weights;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PackerTest {
  static final String SPATIAL = "model.vision_resampler.token_packer.devide_attention.";
  static final String SLOW = "model.vision_resampler.token_packer_slow.devide_attention.";
  ModelConfig cfg = RandomWeights.tinyConfig();
  int c = cfg.hiddenSize();
  NDManager m;

  @BeforeEach
  void open() {
    m = NDManager.newBaseManager(Device.cpu(), "PyTorch");
  }

  @AfterEach
  void close() {
    m.close();
  }

  SpatialTemporalPacker packer(RandomWeights rw) {
    return SpatialTemporalPacker.load(cfg, new Weights(rw, m, DataType.FLOAT32));
  }

  float[] rand(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return a;
  }

  @Test
  void withZeroOutputProjectionStageAPicksGridCentresAndStageBPicksFrameTwoOfFive() {
    RandomWeights rw = new RandomWeights(cfg, 5L);
    rw.set(SPATIAL + "to_out.weight", new float[rw.get(SPATIAL + "to_out.weight").length]);
    rw.set(SLOW + "to_out.weight", new float[rw.get(SLOW + "to_out.weight").length]);
    SpatialTemporalPacker p = packer(rw);
    float[] x = rand(2 * 729 * c, 1);
    float[] a = p.spatial(m.create(x, new Shape(2, 729, c))).toFloatArray(); // [2, 81, C]
    for (int t = 0; t < 2; t++) {
      for (int i = 0; i < 9; i++) {
        for (int j = 0; j < 9; j++) {
          int src = (t * 729 + (3 * i + 1) * 27 + (3 * j + 1)) * c;
          int dst = (t * 81 + i * 9 + j) * c;
          assertThat(JavaNn.slice(a, dst, c)).isEqualTo(JavaNn.slice(x, src, c));
        }
      }
    }
    float[] frames = rand(100 * 81 * c, 2);
    float[] slow = p.slow(m.create(frames, new Shape(100, 81, c))).toFloatArray(); // [1620, C]
    assertThat(slow).hasSize(1620 * c);
    for (int g = 0; g < 20; g++) {
      for (int s = 0; s < 81; s++) {
        assertThat(JavaNn.slice(slow, (g * 81 + s) * c, c))
            .isEqualTo(JavaNn.slice(frames, ((5 * g + 2) * 81 + s) * c, c));
      }
    }
  }

  @Test
  void eachOutputTokenDependsOnlyOnItsRegion() {
    SpatialTemporalPacker p = packer(new RandomWeights(cfg, 6L));
    float[] x = rand(2 * 729 * c, 3);
    float[] base = p.spatial(m.create(x, new Shape(2, 729, c))).toFloatArray();
    float[] bumped = x.clone();
    int t = 1;
    int r = 13;
    int col = 5; // region (13/3, 5/3) = (4, 1); (13, 5) is not the centre (13, 4)
    for (int e = 0; e < c; e++) {
      bumped[(t * 729 + r * 27 + col) * c + e] += 1f;
    }
    float[] out = p.spatial(m.create(bumped, new Shape(2, 729, c))).toFloatArray();
    for (int tok = 0; tok < 2 * 81; tok++) {
      boolean changed =
          !java.util.Arrays.equals(JavaNn.slice(base, tok * c, c), JavaNn.slice(out, tok * c, c));
      assertThat(changed).as("token %d", tok).isEqualTo(tok == 81 + 4 * 9 + 1);
    }

    float[] a = rand(100 * 81 * c, 4);
    float[] sBase = p.slow(m.create(a, new Shape(100, 81, c))).toFloatArray();
    float[] a2 = a.clone();
    for (int e = 0; e < c; e++) {
      a2[(37 * 81 + 10) * c + e] += 1f; // frame 37 is in window 7 (35..39), not its query frame 37
    }
    float[] sOut = p.slow(m.create(a2, new Shape(100, 81, c))).toFloatArray();
    for (int tok = 0; tok < 1620; tok++) {
      boolean changed =
          !java.util.Arrays.equals(JavaNn.slice(sBase, tok * c, c), JavaNn.slice(sOut, tok * c, c));
      assertThat(changed).as("slow token %d", tok).isEqualTo(tok == 7 * 81 + 10);
    }
  }

  @Test
  void regionAttentionMatchesPlainJava() {
    RandomWeights rw = new RandomWeights(cfg, 8L);
    RegionAttention ra =
        RegionAttention.load(
            cfg, new Weights(rw, m, DataType.FLOAT32), "model.vision_resampler.token_packer");
    int mq = 2;
    int r = 3;
    float[] xq = rand(mq * c, 9);
    float[] xk = rand(mq * r * c, 10);
    float[] got =
        ra.forward(m.create(xq, new Shape(mq, c)), m.create(xk, new Shape(mq, r, c)))
            .toFloatArray();
    int e = cfg.stpEmbedDim();
    float[] inW = rw.get(SPATIAL + "attn.in_proj_weight");
    float[] inB = rw.get(SPATIAL + "attn.in_proj_bias");
    for (int i = 0; i < mq; i++) {
      double[] q = mlpLn(rw, "q", JavaNn.row(xq, i, c));
      double[][] ks = new double[r][];
      double[][] vs = new double[r][];
      for (int j = 0; j < r; j++) {
        double[] key = JavaNn.row(xk, i * r + j, c);
        ks[j] =
            JavaNn.lin(
                mlpLn(rw, "k", key), JavaNn.slice(inW, e * e, e * e), JavaNn.slice(inB, e, e));
        vs[j] =
            JavaNn.lin(
                mlpLn(rw, "v", key),
                JavaNn.slice(inW, 2 * e * e, e * e),
                JavaNn.slice(inB, 2 * e, e));
      }
      double[] qp = JavaNn.lin(q, JavaNn.slice(inW, 0, e * e), JavaNn.slice(inB, 0, e));
      double[] att = JavaNn.mha(new double[][] {qp}, ks, vs, cfg.stpNumHeads(), null)[0];
      double[] o =
          JavaNn.lin(
              att,
              rw.get(SPATIAL + "attn.out_proj.weight"),
              rw.get(SPATIAL + "attn.out_proj.bias"));
      double[] back = JavaNn.lin(o, rw.get(SPATIAL + "to_out.weight"), null);
      for (int d = 0; d < c; d++) {
        assertThat((double) got[i * c + d])
            .isCloseTo(xq[i * c + d] + back[d], org.assertj.core.api.Assertions.within(1e-5));
      }
    }
  }

  /** ln_x(to_x(in)) with to_x = Linear GELU(erf) Linear and LayerNorm eps 1e-5. */
  static double[] mlpLn(RandomWeights rw, String x, double[] in) {
    String p = SPATIAL + "to_" + x + ".";
    double[] h = JavaNn.geluErf(JavaNn.lin(in, rw.get(p + "0.weight"), rw.get(p + "0.bias")));
    double[] o = JavaNn.lin(h, rw.get(p + "2.weight"), rw.get(p + "2.bias"));
    return JavaNn.layerNorm(
        o, rw.get(SPATIAL + "ln_" + x + ".weight"), rw.get(SPATIAL + "ln_" + x + ".bias"), 1e-5);
  }
}

package dev.llavast.models.siglip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.JavaNn;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.RandomWeights;
import dev.llavast.models.nn.Weights;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SiglipTest {
  static final String P = "model.vision_tower.vision_tower.vision_model.";
  ModelConfig cfg = RandomWeights.tinyConfig();

  static float[] rand(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return a;
  }

  @Test
  void encoderLayerMatchesPlainJava() {
    RandomWeights rw = new RandomWeights(cfg, 21L);
    int cv = cfg.vision().hiddenSize();
    int len = 5;
    float[] x = rand(len * cv, 1);
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      SiglipEncoder enc = SiglipEncoder.load(cfg, new Weights(rw, m, DataType.FLOAT32));
      float[] got = enc.layerForTest(0, m.create(x, new Shape(1, len, cv))).toFloatArray();
      String l = P + "encoder.layers.0.";
      double eps = 1e-6;
      double[][] h = new double[len][];
      double[][] q = new double[len][];
      double[][] k = new double[len][];
      double[][] v = new double[len][];
      for (int i = 0; i < len; i++) {
        h[i] =
            JavaNn.layerNorm(
                JavaNn.row(x, i, cv),
                rw.get(l + "layer_norm1.weight"),
                rw.get(l + "layer_norm1.bias"),
                eps);
        q[i] =
            JavaNn.lin(
                h[i], rw.get(l + "self_attn.q_proj.weight"), rw.get(l + "self_attn.q_proj.bias"));
        k[i] =
            JavaNn.lin(
                h[i], rw.get(l + "self_attn.k_proj.weight"), rw.get(l + "self_attn.k_proj.bias"));
        v[i] =
            JavaNn.lin(
                h[i], rw.get(l + "self_attn.v_proj.weight"), rw.get(l + "self_attn.v_proj.bias"));
      }
      double[][] att = JavaNn.mha(q, k, v, cfg.vision().numAttentionHeads(), null);
      for (int i = 0; i < len; i++) {
        double[] o =
            JavaNn.lin(
                att[i],
                rw.get(l + "self_attn.out_proj.weight"),
                rw.get(l + "self_attn.out_proj.bias"));
        double[] x1 = JavaNn.row(x, i, cv);
        for (int e = 0; e < cv; e++) {
          x1[e] += o[e];
        }
        double[] h2 =
            JavaNn.layerNorm(
                x1, rw.get(l + "layer_norm2.weight"), rw.get(l + "layer_norm2.bias"), eps);
        double[] f =
            JavaNn.lin(
                JavaNn.geluTanh(
                    JavaNn.lin(h2, rw.get(l + "mlp.fc1.weight"), rw.get(l + "mlp.fc1.bias"))),
                rw.get(l + "mlp.fc2.weight"),
                rw.get(l + "mlp.fc2.bias"));
        for (int e = 0; e < cv; e++) {
          assertThat((double) got[i * cv + e])
              .as("token %d dim %d", i, e)
              .isCloseTo(x1[e] + f[e], within(1e-5));
        }
      }
    }
  }

  @Test
  void patchEmbeddingIsAStride14ConvFlattenedRowMajorPlusPosition() {
    RandomWeights rw = new RandomWeights(cfg, 22L);
    int cv = cfg.vision().hiddenSize();
    int s = 378;
    float[] px = rand(3 * s * s, 2);
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      SiglipEncoder enc = SiglipEncoder.load(cfg, new Weights(rw, m, DataType.FLOAT32));
      float[] got = enc.embed(m.create(px, new Shape(1, 3, s, s))).toFloatArray(); // [1, 729, Cv]
      float[] w = rw.get(P + "embeddings.patch_embedding.weight");
      float[] b = rw.get(P + "embeddings.patch_embedding.bias");
      float[] pos = rw.get(P + "embeddings.position_embedding.weight");
      for (int[] rc : new int[][] {{0, 0}, {2, 5}, {26, 26}, {13, 0}}) {
        int patch = rc[0] * 27 + rc[1];
        for (int o = 0; o < cv; o++) {
          double acc = b[o] + pos[patch * cv + o];
          for (int ch = 0; ch < 3; ch++) {
            for (int dy = 0; dy < 14; dy++) {
              for (int dx = 0; dx < 14; dx++) {
                acc +=
                    w[((o * 3 + ch) * 14 + dy) * 14 + dx]
                        * px[(ch * s + rc[0] * 14 + dy) * s + rc[1] * 14 + dx];
              }
            }
          }
          assertThat((double) got[patch * cv + o]).isCloseTo(acc, within(1e-4));
        }
      }
    }
  }
}

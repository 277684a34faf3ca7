package dev.llavast.models.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class OpsTest {
  NDManager m;
  SplittableRandom rng = new SplittableRandom(3);

  @BeforeEach
  void open() {
    m = NDManager.newBaseManager(Device.cpu(), "PyTorch");
  }

  @AfterEach
  void close() {
    m.close();
  }

  float[] rand(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (rng.nextDouble() * 4 - 2);
    }
    return a;
  }

  static void assertClose(float[] got, float[] want, double tol) {
    assertThat(got).hasSameSizeAs(want);
    for (int i = 0; i < got.length; i++) {
      assertThat((double) got[i]).as("element %d", i).isCloseTo(want[i], within(tol));
    }
  }

  @Test
  void geluVariantsMatchTheirPublishedValuesAtOne() {
    NDArray x = m.create(new float[] {1f, -1f, 0f});
    float[] erf = Ops.geluErf(x).toFloatArray();
    float[] tanh = Ops.geluTanh(x).toFloatArray();
    assertThat((double) erf[0]).isCloseTo(0.8413447, within(1e-6));
    assertThat((double) erf[1]).isCloseTo(-0.1586553, within(1e-6));
    assertThat((double) tanh[0]).isCloseTo(0.8411920, within(1e-6));
    assertThat((double) tanh[1]).isCloseTo(-0.1588080, within(1e-6));
    assertThat(erf[2]).isZero();
  }

  @Test
  void geluTanhMatchesTheTanhFormulaOverItsRange() {
    float[] xs = new float[401];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = -10f + i * 0.05f;
    }
    float[] got = Ops.geluTanh(m.create(xs)).toFloatArray();
    for (int i = 0; i < xs.length; i++) {
      double x = xs[i];
      double want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
      assertThat((double) got[i]).as("x = %s", x).isCloseTo(want, within(2e-6));
    }
  }

  @Test
  void siluIsXTimesSigmoid() {
    float[] got = Ops.silu(m.create(new float[] {1f, -2f})).toFloatArray();
    assertThat((double) got[0]).isCloseTo(1 / (1 + Math.exp(-1)), within(1e-6));
    assertThat((double) got[1]).isCloseTo(-2 / (1 + Math.exp(2)), within(1e-6));
  }

  @Test
  void rmsNormMatchesHandComputation() {
    // x = [3, 4]: mean square 12.5, w = [1, 2]
    float[] got =
        Ops.rmsNorm(
                m.create(new float[] {3f, 4f}, new Shape(1, 2)),
                m.create(new float[] {1f, 2f}),
                1e-6f)
            .toFloatArray();
    double inv = 1 / Math.sqrt(12.5 + 1e-6);
    assertClose(got, new float[] {(float) (3 * inv), (float) (8 * inv)}, 1e-6);
  }

  @Test
  void layerNormMatchesJavaLoops() {
    int rows = 3;
    int c = 8;
    float[] x = rand(rows * c);
    float[] w = rand(c);
    float[] b = rand(c);
    float[] got =
        Ops.layerNorm(m.create(x, new Shape(rows, c)), m.create(w), m.create(b), 1e-6f)
            .toFloatArray();
    float[] want = new float[rows * c];
    for (int r = 0; r < rows; r++) {
      double mean = 0;
      for (int i = 0; i < c; i++) {
        mean += x[r * c + i];
      }
      mean /= c;
      double var = 0;
      for (int i = 0; i < c; i++) {
        var += Math.pow(x[r * c + i] - mean, 2);
      }
      var /= c;
      for (int i = 0; i < c; i++) {
        want[r * c + i] = (float) ((x[r * c + i] - mean) / Math.sqrt(var + 1e-6) * w[i] + b[i]);
      }
    }
    assertClose(got, want, 1e-5);
  }

  @Test
  void ropeRotatesHalvesByPositionAngles() {
    int d = 8;
    int heads = 2;
    long[] pos = {0, 1, 37};
    float[] x = rand(pos.length * heads * d);
    float[][] cs = Ops.ropeTables(pos, d, 10000.0);
    NDArray cos = m.create(cs[0], new Shape(pos.length, 1, d));
    NDArray sin = m.create(cs[1], new Shape(pos.length, 1, d));
    float[] got = Ops.rope(m.create(x, new Shape(pos.length, heads, d)), cos, sin).toFloatArray();
    float[] want = new float[x.length];
    for (int n = 0; n < pos.length; n++) {
      for (int h = 0; h < heads; h++) {
        int o = (n * heads + h) * d;
        for (int i = 0; i < d / 2; i++) {
          double ang = pos[n] * Math.pow(10000.0, -2.0 * i / d);
          want[o + i] = (float) (x[o + i] * Math.cos(ang) - x[o + i + d / 2] * Math.sin(ang));
          want[o + i + d / 2] =
              (float) (x[o + i + d / 2] * Math.cos(ang) + x[o + i] * Math.sin(ang));
        }
      }
    }
    assertClose(got, want, 1e-5);
    // position 0 is the identity
    for (int i = 0; i < heads * d; i++) {
      assertThat(got[i]).isEqualTo(x[i]);
    }
  }

  @Test
  void attentionMatchesJavaSoftmaxWithMask() {
    int lq = 2;
    int lk = 3;
    int d = 4;
    float[] q = rand(lq * d);
    float[] k = rand(lk * d);
    float[] v = rand(lk * d);
    float[] mask = {0, 0, Float.NEGATIVE_INFINITY, 0, 0, 0};
    float scale = 0.5f;
    float[] got =
        Ops.attention(
                m.create(q, new Shape(1, 1, lq, d)),
                m.create(k, new Shape(1, 1, lk, d)),
                m.create(v, new Shape(1, 1, lk, d)),
                m.create(mask, new Shape(1, 1, lq, lk)),
                scale)
            .toFloatArray();
    float[] want = new float[lq * d];
    for (int i = 0; i < lq; i++) {
      double[] s = new double[lk];
      double sum = 0;
      for (int j = 0; j < lk; j++) {
        double dot = 0;
        for (int e = 0; e < d; e++) {
          dot += q[i * d + e] * k[j * d + e];
        }
        s[j] = mask[i * lk + j] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(dot * scale);
        sum += s[j];
      }
      for (int e = 0; e < d; e++) {
        double acc = 0;
        for (int j = 0; j < lk; j++) {
          acc += s[j] / sum * v[j * d + e];
        }
        want[i * d + e] = (float) acc;
      }
    }
    assertClose(got, want, 1e-5);
  }

  @Test
  void attentionTilesLongQueriesWithoutChangingANumber() {
    // [1, 2, 1100, 8] x 500 keys = 1.1 Mi score elements > 2^20 on CPU: two tiles of 1048 and 52
    // queries
    int h = 2;
    int lq = 1100;
    int lk = 500;
    int d = 8;
    float[] q = rand(h * lq * d);
    float[] k = rand(h * lk * d);
    float[] v = rand(h * lk * d);
    float[] mask = new float[lq * lk]; // causal over the last lk queries' positions
    for (int i = 0; i < lq; i++) {
      for (int j = 0; j < lk; j++) {
        mask[i * lk + j] = j <= i * lk / lq ? 0f : Float.NEGATIVE_INFINITY;
      }
    }
    float scale = 0.35f;
    float[] got =
        Ops.attention(
                m.create(q, new Shape(1, h, lq, d)),
                m.create(k, new Shape(1, h, lk, d)),
                m.create(v, new Shape(1, h, lk, d)),
                m.create(mask, new Shape(1, 1, lq, lk)),
                scale)
            .toFloatArray();
    float[] want = new float[h * lq * d];
    for (int head = 0; head < h; head++) {
      for (int i = 0; i < lq; i++) {
        double[] s = new double[lk];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < lk; j++) {
          double dot = 0;
          for (int e = 0; e < d; e++) {
            dot += q[(head * lq + i) * d + e] * k[(head * lk + j) * d + e];
          }
          s[j] =
              mask[i * lk + j] == Float.NEGATIVE_INFINITY ? Double.NEGATIVE_INFINITY : dot * scale;
          max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < lk; j++) {
          s[j] = Math.exp(s[j] - max);
          sum += s[j];
        }
        for (int e = 0; e < d; e++) {
          double acc = 0;
          for (int j = 0; j < lk; j++) {
            acc += s[j] / sum * v[(head * lk + j) * d + e];
          }
          want[(head * lq + i) * d + e] = (float) acc;
        }
      }
    }
    assertClose(got, want, 1e-5);
  }

  @Test
  void linearIsXTimesWTransposedPlusBias() {
    float[] got =
        Ops.linear(
                m.create(new float[] {1f, 2f}, new Shape(1, 2)),
                m.create(new float[] {1f, 0f, 3f, -1f, 0.5f, 0.5f}, new Shape(3, 2)),
                m.create(new float[] {0f, 1f, -1f}))
            .toFloatArray();
    assertClose(got, new float[] {1f, 2f, 0.5f}, 1e-7);
  }
}

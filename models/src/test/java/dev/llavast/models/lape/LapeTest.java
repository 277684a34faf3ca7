package dev.llavast.models.lape;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.RandomWeights;
import dev.llavast.models.nn.Weights;
import org.junit.jupiter.api.Test;

class LapeTest {
  /** Spec §4.3: (i0, λ) for 100 -> 27, verified against PyTorch there. */
  static final double[][] SPEC = {
    {1, .352},
    {5, .056},
    {8, .759},
    {12, .463},
    {16, .167},
    {19, .870},
    {23, .574},
    {27, .278},
    {30, .981},
    {34, .685},
    {38, .389},
    {42, .093},
    {45, .796},
    {49, .500},
    {53, .204},
    {56, .907},
    {60, .611},
    {64, .315},
    {68, .019},
    {71, .722},
    {75, .426},
    {79, .130},
    {82, .833},
    {86, .537},
    {90, .241},
    {93, .944},
    {97, .648}
  };

  @Test
  void resample100To27MatchesTheSpecTable() {
    LinearResample r = LinearResample.of(100, 27);
    for (int i = 0; i < 27; i++) {
      assertThat(r.i0()[i]).as("i0 of %d", i).isEqualTo((int) SPEC[i][0]);
      assertThat(r.i1()[i]).isEqualTo((int) SPEC[i][0] + 1);
      assertThat((double) r.lambda()[i]).as("lambda of %d", i).isCloseTo(SPEC[i][1], within(5e-4));
    }
  }

  @Test
  void coordinateLerpFollowsTheSpecExample() {
    CoordinateLerp l = CoordinateLerp.of(0.409f, 100); // p = 40.491
    assertThat(l.lo()).isEqualTo(40);
    assertThat(l.hi()).isEqualTo(41);
    assertThat((double) l.weightHi()).isCloseTo(0.491, within(1e-4));
    assertThat(CoordinateLerp.of(1.7f, 100)).isEqualTo(new CoordinateLerp(99, 99, 0f));
    assertThat(CoordinateLerp.of(-0.2f, 100)).isEqualTo(new CoordinateLerp(0, 0, 0f));
    assertThat(CoordinateLerp.of(0.5f, 100).weightHi()).isEqualTo(0.5f);
  }

  @Test
  void injectionAddsResampledMeanTablesAndTheFramesTemporalRow() {
    ModelConfig cfg = RandomWeights.tinyConfig();
    RandomWeights rw = new RandomWeights(cfg, 11L);
    int c = cfg.hiddenSize();
    int g = 27;
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      Lape lape = Lape.load(cfg, new Weights(rw, m, DataType.FLOAT32));
      int first = 40;
      int n = 3;
      float[] feat = new float[n * g * g * c];
      for (int i = 0; i < feat.length; i++) {
        feat[i] = i % 7 * 0.25f;
      }
      NDArray x = m.create(feat, new Shape(n, g * g, c));
      float[] got = lape.inject(x, first).toFloatArray();
      float[] tIn = rw.get(Lape.TEMPORAL_INPUT);
      float[] tOut = rw.get(Lape.TEMPORAL_OUTPUT);
      float[] hIn = rw.get(Lape.HEIGHT_INPUT);
      float[] hOut = rw.get(Lape.HEIGHT_OUTPUT);
      float[] wIn = rw.get(Lape.WIDTH_INPUT);
      float[] wOut = rw.get(Lape.WIDTH_OUTPUT);
      double worst = 0;
      for (int t = 0; t < n; t++) {
        for (int r = 0; r < g; r++) {
          for (int col = 0; col < g; col++) {
            for (int e = 0; e < c; e++) {
              double want =
                  feat[((t * g + r) * g + col) * c + e]
                      + resampled(hIn, hOut, r, e, c)
                      + resampled(wIn, wOut, col, e, c)
                      + (tIn[(first + t) * c + e] + tOut[(first + t) * c + e]) / 2.0;
              worst = Math.max(worst, Math.abs(got[((t * g + r) * g + col) * c + e] - want));
            }
          }
        }
      }
      assertThat(worst).isLessThan(1e-5);
    }
  }

  /** Half-pixel linear 100 -> 27 of (in + out) / 2, computed in double. */
  static double resampled(float[] in, float[] out, int i, int e, int c) {
    double src = Math.max(0, 100.0 / 27 * (i + 0.5) - 0.5);
    int lo = (int) Math.floor(src);
    int hi = Math.min(lo + 1, 99);
    double l = src - lo;
    double a = (in[lo * c + e] + out[lo * c + e]) / 2.0;
    double b = (in[hi * c + e] + out[hi * c + e]) / 2.0;
    return (1 - l) * a + l * b;
  }
}

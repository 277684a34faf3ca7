package dev.llavast.models.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.scheduler.SamplingParams;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The device sampler picks exactly the host sampler's tokens, from the same (seed, index) uniforms,
 * for greedy, temperature, top-k, top-p and their mix in one batch; and it flags exactly the rows
 * whose logits are not finite.
 */
class DeviceSamplerTest {
  static final int W = 1_000;

  static float[] logits(int rows, long seed, float scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[rows * W];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextGaussian() * scale);
    }
    return x;
  }

  static SamplingParams params(float t, float topP, int topK, long seed, boolean logprobs) {
    return new SamplingParams(t, topP, topK, 1f, seed, 16, new int[0], logprobs);
  }

  /** Picks every row on the device and on the host and compares ids and log-probabilities. */
  static int compare(float[] x, SamplingParams[] p, int[] counts) {
    int m = p.length;
    DeviceSampler.Picks picks;
    try (NDManager nm = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray lg = nm.create(x, new Shape(m, W));
      picks = DeviceSampler.pick(lg, p, counts);
      assertThat(nm.getManagedArrays()).as("only the logits stay alive").hasSize(1);
    }
    int differing = 0;
    for (int i = 0; i < m; i++) {
      assertThat(picks.finite()[i]).isTrue();
      int[] generated = new int[counts[i]];
      Sampler.Sample host = Sampler.sample(x, i * W, W, p[i], generated);
      if (host.tokenId() != picks.tokenIds()[i]) {
        differing++;
        continue;
      }
      if (p[i].logprobs() || !p[i].isGreedy()) {
        assertThat(picks.logprobs()[i])
            .as("logprob of row %d", i)
            .isCloseTo(host.logprob(), within(2e-4f));
      } else {
        assertThat(picks.logprobs()[i]).isNaN();
      }
    }
    return differing;
  }

  @Test
  void greedyPicksTheHostArgmaxAndItsLogprob() {
    int m = 16;
    float[] x = logits(m, 1, 3f);
    x[5 * W + 7] = x[5 * W + 900] = 50f; // a tie: the first index wins on both sides
    SamplingParams[] p = new SamplingParams[m];
    for (int i = 0; i < m; i++) {
      p[i] = i % 2 == 0 ? SamplingParams.greedy(16) : params(0f, 1f, 0, 0, true);
    }
    assertThat(compare(x, p, new int[m])).isZero();
  }

  @Test
  void seededTopKTopPDrawsTheHostTokens() {
    int m = 24;
    int draws = 0;
    for (long seed = 0; seed < 25; seed++) {
      float[] x = logits(m, 100 + seed, 2.5f);
      SamplingParams[] p = new SamplingParams[m];
      int[] counts = new int[m];
      for (int i = 0; i < m; i++) {
        counts[i] = (int) ((seed * 7 + i) % 11);
        p[i] =
            switch (i % 6) {
              case 0 -> SamplingParams.greedy(16);
              case 1 -> params(1f, 1f, 0, seed * 31 + i, false); // plain temperature
              case 2 -> params(0.7f, 1f, 40, seed * 31 + i, true); // top-k
              case 3 -> params(1.3f, 0.9f, 0, seed * 31 + i, true); // top-p
              case 4 -> params(0.8f, 0.5f, 100, seed * 31 + i, false); // both
              default -> params(2f, 0.05f, 5, seed * 31 + i, true); // a tiny nucleus
            };
      }
      assertThat(compare(x, p, counts)).as("rows differing from the host, seed %d", seed).isZero();
      draws += m;
    }
    assertThat(draws).isEqualTo(600);
  }

  @Test
  void rowsNotAskedForAreOnlyChecked() {
    float[] x = logits(3, 9, 1f);
    SamplingParams[] p = {null, SamplingParams.greedy(4), null};
    try (NDManager nm = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      DeviceSampler.Picks picks = DeviceSampler.pick(nm.create(x, new Shape(3, W)), p, new int[3]);
      assertThat(picks.tokenIds()[0]).isEqualTo(-1);
      assertThat(picks.tokenIds()[2]).isEqualTo(-1);
      assertThat(picks.tokenIds()[1])
          .isEqualTo(Sampler.argmax(java.util.Arrays.copyOfRange(x, W, 2 * W)));
      assertThat(picks.finite()).containsExactly(true, true, true);
    }
  }

  @Test
  void nonFiniteRowsAreFlaggedAloneInEveryDtype() {
    int m = 5;
    float[] x = logits(m, 3, 4f);
    x[1 * W + 17] = Float.NaN;
    x[3 * W + 999] = Float.POSITIVE_INFINITY;
    x[4 * W] = Float.NEGATIVE_INFINITY;
    SamplingParams[] p = new SamplingParams[m];
    for (int i = 0; i < m; i++) {
      p[i] = i % 2 == 0 ? SamplingParams.greedy(16) : params(1f, 0.9f, 50, i, true);
    }
    for (DataType dt : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
      try (NDManager nm = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
        NDArray lg = nm.create(x, new Shape(m, W)).toType(dt, false);
        DeviceSampler.Picks picks = DeviceSampler.pick(lg, p, new int[m]);
        assertThat(picks.finite()).as("%s", dt).containsExactly(true, false, true, false, false);
        assertThat(picks.tokenIds()[0]).isBetween(0, W - 1);
        assertThat(picks.tokenIds()[2]).isBetween(0, W - 1);
      }
    }
  }
}

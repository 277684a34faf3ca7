package dev.llavast.models.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.llavast.scheduler.SamplingParams;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {
  static SamplingParams params(float t, float topP, int topK, float pen, long seed) {
    return new SamplingParams(t, topP, topK, pen, seed, 10, new int[] {3}, true);
  }

  @Test
  void greedyIsArgmaxWithLogSoftmaxLogprob() {
    float[] logits = {0f, 2f, 1f, -1f};
    Sampler.Sample s = Sampler.sample(logits, 0, 4, params(0f, 1f, 0, 1f, 0), new int[0]);
    assertThat(s.tokenId()).isEqualTo(1);
    double lse = Math.log(Math.exp(0) + Math.exp(2) + Math.exp(1) + Math.exp(-1));
    assertThat((double) s.logprob()).isCloseTo(2 - lse, within(1e-6));
    assertThat(s.stop()).isFalse();
    Sampler.Sample quiet = Sampler.sample(logits, 0, 4, SamplingParams.greedy(10), new int[0]);
    assertThat(quiet.tokenId()).isEqualTo(1);
    assertThat(quiet.logprob()).as("not asked for").isNaN();
  }

  @Test
  void repetitionPenaltyDividesPositiveAndMultipliesNegativeGeneratedLogits() {
    float[] x = {2.0f, 1.9f, -1f, 0.5f};
    Sampler.applyRepetitionPenalty(x, new int[] {0, 2, 0}, 1.05f);
    assertThat((double) x[0]).isCloseTo(2.0 / 1.05, within(1e-6));
    assertThat(x[1]).isEqualTo(1.9f);
    assertThat((double) x[2]).isCloseTo(-1.05, within(1e-6));
    // 2/1.05 = 1.905 still wins over 1.9; a penalty of 1.1 flips the argmax
    assertThat(
            Sampler.sample(
                    new float[] {2.0f, 1.9f}, 0, 2, params(0f, 1f, 0, 1.05f, 0), new int[] {0})
                .tokenId())
        .isEqualTo(0);
    assertThat(
            Sampler.sample(
                    new float[] {2.0f, 1.9f}, 0, 2, params(0f, 1f, 0, 1.1f, 0), new int[] {0})
                .tokenId())
        .isEqualTo(1);
  }

  @Test
  void topKOneAndTinyTopPAreGreedy() {
    float[] logits = {0.1f, 0.3f, 0.2f, 0.25f};
    for (long seed = 0; seed < 20; seed++) {
      assertThat(Sampler.sample(logits, 0, 4, params(1f, 1f, 1, 1f, seed), new int[0]).tokenId())
          .isEqualTo(1);
      assertThat(Sampler.sample(logits, 0, 4, params(1f, 0.01f, 0, 1f, seed), new int[0]).tokenId())
          .isEqualTo(1);
    }
  }

  @Test
  void topKKeepsTiesWithTheKthValue() {
    assertThat(Sampler.kthLargest(new float[] {5f, 1f, 3f, 3f, 2f}, 2)).isEqualTo(3f);
    assertThat(Sampler.kthLargest(new float[] {5f, 1f, 3f, 3f, 2f}, 4)).isEqualTo(2f);
  }

  @Test
  void topPDropsTheAscendingTailWithMassAtMostOneMinusP() {
    // probs 0.5, 0.3, 0.15, 0.05; top_p 0.75: ascending cum 0.05, 0.20 (<= 0.25 removed), 0.50
    // (kept)
    double[] p = {0.5, 0.3, 0.15, 0.05};
    Sampler.applyTopP(p, 0.75f);
    assertThat(p[3]).isZero();
    assertThat(p[2]).isZero();
    assertThat(p[0]).isCloseTo(0.625, within(1e-9));
    assertThat(p[1]).isCloseTo(0.375, within(1e-9));
  }

  @Test
  void samplingIsSeededPerRequestAndIndexOnly() {
    float[] logits = new float[50];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (float) Math.sin(i);
    }
    SamplingParams p = params(1f, 1f, 0, 1f, 1234);
    int a = Sampler.sample(logits, 0, 50, p, new int[] {7, 8}).tokenId();
    Sampler.sample(
        logits, 0, 50, params(1f, 1f, 0, 1f, 99), new int[0]); // unrelated draws in between
    assertThat(Sampler.sample(logits, 0, 50, p, new int[] {7, 8}).tokenId()).isEqualTo(a);
    Set<Integer> seen = new HashSet<>();
    for (long seed = 0; seed < 40; seed++) {
      seen.add(Sampler.sample(logits, 0, 50, params(1f, 1f, 0, 1f, seed), new int[0]).tokenId());
    }
    assertThat(seen.size()).as("temperature 1 explores").isGreaterThan(5);
  }

  @Test
  void sampledLogprobIsUnderTheFilteredDistributionAndStopIsFlagged() {
    float[] logits = {0f, (float) Math.log(3), -5f, 1f};
    // top-k 2 keeps ids 1 (e^ln3 = 3) and 3 (e^1): renormalized over {3, e}
    Sampler.Sample s = Sampler.sample(logits, 0, 4, params(1f, 1f, 2, 1f, 5), new int[0]);
    assertThat(s.tokenId()).isIn(1, 3);
    double pz = s.tokenId() == 1 ? 3 / (3 + Math.E) : Math.E / (3 + Math.E);
    assertThat((double) s.logprob()).isCloseTo(Math.log(pz), within(1e-5));
    assertThat(s.stop()).isEqualTo(s.tokenId() == 3);
  }

  @Test
  void referencePresetMirrorsGenerationSettings() {
    SamplingParams r = SamplingPresets.reference(1L, 1024, 151645, 151643);
    assertThat(r.temperature()).isEqualTo(0.01f);
    assertThat(r.topK()).isEqualTo(20);
    assertThat(r.topP()).isEqualTo(1f);
    assertThat(r.repetitionPenalty()).isEqualTo(1.05f);
    assertThat(r.stopTokenIds()).containsExactly(151645, 151643);
    assertThat(SamplingPresets.referenceGreedy(8, 1).isGreedy()).isTrue();
  }
}

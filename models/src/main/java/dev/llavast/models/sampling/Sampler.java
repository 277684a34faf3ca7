package dev.llavast.models.sampling;

import dev.llavast.scheduler.SamplingParams;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/**
 * Picks the next token from one row of logits on the host, in the order HF applies its processors:
 * repetition penalty (on previously generated ids only: a positive logit is divided by the penalty,
 * a negative one multiplied), then, unless greedy, temperature, top-k (ties with the k-th value
 * kept), top-p (ascending cumulative mass {@code <= 1 - p} removed, the best token always kept),
 * softmax and one draw.
 *
 * <p>The draw for generated index {@code n} uses a generator seeded by ({@code seed}, {@code n})
 * only, so the token does not depend on which other sequences share the batch. Stateless; any
 * thread.
 */
public final class Sampler {
  private Sampler() {}

  /**
   * The sampled token.
   *
   * @param tokenId the id
   * @param logprob natural log of its probability under the distribution it was drawn from (greedy:
   *     log-softmax of the penalised logits at temperature 1, computed only when the request asks
   *     for logprobs, else NaN: the log-sum-exp over the vocabulary costs more than the argmax)
   * @param stop whether the id is one of the request's stop ids
   */
  public record Sample(int tokenId, float logprob, boolean stop) {}

  /**
   * Samples from {@code logits[offset, offset + vocab)}; the array is not modified.
   *
   * @param generated ids generated so far by this sequence (penalised; its length is the index
   *     {@code n})
   */
  public static Sample sample(
      float[] logits, int offset, int vocab, SamplingParams p, int[] generated) {
    return sample(logits, offset, vocab, p, generated, null);
  }

  /**
   * Samples from {@code logits[offset, offset + vocab)} restricted to {@code mask} (null: no
   * restriction): ids it does not allow get negative infinity before every other step, so the
   * penalty, temperature, top-k and top-p act on the masked distribution. The array is not
   * modified.
   */
  public static Sample sample(
      float[] logits,
      int offset,
      int vocab,
      SamplingParams p,
      int[] generated,
      @Nullable TokenMask mask) {
    if (offset < 0 || vocab <= 0 || offset + vocab > logits.length) {
      throw new IllegalArgumentException(
          "logit row ["
              + offset
              + ", "
              + (offset + vocab)
              + ") outside an array of "
              + logits.length);
    }
    float[] x =
        mask == null
            ? Arrays.copyOfRange(logits, offset, offset + vocab)
            : mask.apply(logits, offset, vocab);
    applyRepetitionPenalty(x, generated, p.repetitionPenalty());
    int id;
    float logprob;
    if (p.isGreedy()) {
      id = argmax(x);
      logprob = p.logprobs() ? (float) (x[id] - logSumExp(x)) : Float.NaN;
    } else {
      float inv = 1f / p.temperature();
      for (int i = 0; i < vocab; i++) {
        x[i] *= inv;
      }
      if (p.topK() > 0 && p.topK() < vocab) {
        float kth = kthLargest(x, p.topK());
        for (int i = 0; i < vocab; i++) {
          if (x[i] < kth) {
            x[i] = Float.NEGATIVE_INFINITY;
          }
        }
      }
      double[] prob = softmax(x);
      if (p.topP() < 1f) {
        applyTopP(prob, p.topP());
      }
      SplittableRandom rng = new SplittableRandom(mix(p.seed(), generated.length));
      id = draw(prob, rng.nextDouble());
      logprob = (float) Math.log(prob[id]);
    }
    return new Sample(id, logprob, p.isStopToken(id));
  }

  /** HF {@code RepetitionPenaltyLogitsProcessor} over the distinct ids in {@code generated}. */
  static void applyRepetitionPenalty(float[] x, int[] generated, float penalty) {
    if (penalty == 1f || generated.length == 0) {
      return;
    }
    int[] ids = Arrays.stream(generated).filter(i -> i >= 0 && i < x.length).distinct().toArray();
    for (int i : ids) {
      x[i] = x[i] > 0 ? x[i] / penalty : x[i] * penalty;
    }
  }

  static int argmax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[best]) {
        best = i;
      }
    }
    return best;
  }

  private static double logSumExp(float[] x) {
    float max = x[argmax(x)];
    double s = 0;
    for (float v : x) {
      s += Math.exp(v - max);
    }
    return max + Math.log(s);
  }

  private static double[] softmax(float[] x) {
    float max = x[argmax(x)];
    double[] p = new double[x.length];
    double s = 0;
    for (int i = 0; i < x.length; i++) {
      p[i] = x[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(x[i] - max);
      s += p[i];
    }
    for (int i = 0; i < x.length; i++) {
      p[i] /= s;
    }
    return p;
  }

  /** The k-th largest value (1-based) with a bounded min-heap. */
  static float kthLargest(float[] x, int k) {
    float[] heap = new float[k];
    int size = 0;
    for (float v : x) {
      if (size < k) {
        heap[size] = v;
        int c = size++;
        while (c > 0 && heap[(c - 1) / 2] > heap[c]) {
          swap(heap, c, (c - 1) / 2);
          c = (c - 1) / 2;
        }
      } else if (v > heap[0]) {
        heap[0] = v;
        int c = 0;
        while (true) {
          int l = 2 * c + 1;
          int r = l + 1;
          int m = c;
          if (l < k && heap[l] < heap[m]) {
            m = l;
          }
          if (r < k && heap[r] < heap[m]) {
            m = r;
          }
          if (m == c) {
            break;
          }
          swap(heap, c, m);
          c = m;
        }
      }
    }
    return heap[0];
  }

  private static void swap(float[] a, int i, int j) {
    float t = a[i];
    a[i] = a[j];
    a[j] = t;
  }

  /**
   * HF {@code TopPLogitsWarper}: sort ascending, drop tokens whose cumulative mass is {@code <= 1 -
   * topP}.
   */
  static void applyTopP(double[] prob, float topP) {
    int n = 0;
    for (double v : prob) {
      if (v > 0) {
        n++;
      }
    }
    long[] keys = new long[n];
    int j = 0;
    for (int i = 0; i < prob.length; i++) {
      if (prob[i] > 0) {
        keys[j++] = ((long) Float.floatToIntBits((float) prob[i]) << 32) | i;
      }
    }
    Arrays.sort(keys); // ascending probability (non-negative floats order like their bits)
    double cum = 0;
    double limit = 1.0 - topP;
    for (int i = 0; i < n - 1; i++) { // the most probable token is always kept
      int idx = (int) (keys[i] & 0xffffffffL);
      cum += prob[idx];
      if (cum <= limit) {
        prob[idx] = 0;
      } else {
        break;
      }
    }
    double s = 0;
    for (double v : prob) {
      s += v;
    }
    for (int i = 0; i < prob.length; i++) {
      prob[i] /= s;
    }
  }

  private static int draw(double[] prob, double u) {
    double cum = 0;
    int last = -1;
    for (int i = 0; i < prob.length; i++) {
      if (prob[i] > 0) {
        cum += prob[i];
        last = i;
        if (u < cum) {
          return i;
        }
      }
    }
    return last;
  }

  /** A 64-bit mix of (seed, index) so neighbouring indices give unrelated streams. */
  static long mix(long seed, int index) {
    long z = seed * 0x9E3779B97F4A7C15L + (index + 1L) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

package dev.llavast.models.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.scheduler.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Picks tokens where the logits are (the GPU on a GPU), so that only the chosen ids, their
 * log-probabilities and one finiteness check per row cross to the host: one copy of {@code 3·M}
 * floats instead of the {@code [M, V + 3·bins]} logits.
 *
 * <p>It follows {@link Sampler} exactly, on the same random numbers: greedy is the first argmax;
 * otherwise temperature, top-k (ties with the k-th value kept), softmax (fp64 from here on, as the
 * host), top-p (the ascending cumulative mass {@code <= 1 - p} removed, the best token always
 * kept), and one inverse-CDF draw in id order with the uniform {@link Sampler} would draw, made on
 * the host from ({@code seed}, generated index) and passed in. So both paths give the same token
 * unless a probability sits within rounding of a cut (fp64 sums in another order).
 *
 * <p>Rows that need a repetition penalty or a constraint mask are not sampled here: the caller
 * samples them on the host ({@link Sampler}).
 *
 * <p>Stateless. Call from the thread that owns {@code logits}' manager (the device's worker).
 */
public final class DeviceSampler {
  private DeviceSampler() {}

  /**
   * What came back: for every row the finiteness check, and for every row asked for its id and
   * log-probability.
   *
   * @param finite per row of the logits: whether every logit was finite
   * @param tokenIds per row: the picked id, or -1 for a row not asked for
   * @param logprobs per row: the picked id's log-probability (as {@link Sampler.Sample#logprob}),
   *     NaN when not asked for or not requested by its parameters
   */
  public record Picks(boolean[] finite, int[] tokenIds, float[] logprobs) {}

  /**
   * Checks every row of {@code logits} and picks a token for each row {@code i} with {@code
   * params[i] != null}.
   *
   * @param logits {@code [M, W]}, any float dtype; not modified or closed
   * @param params per row, the request's parameters, or null for a row to check only
   * @param generatedCounts per row, tokens generated so far (the draw's index)
   */
  public static Picks pick(NDArray logits, SamplingParams[] params, int[] generatedCounts) {
    Objects.requireNonNull(logits, "logits");
    int m = (int) logits.getShape().get(0);
    int w = (int) logits.getShape().get(1);
    if (params.length != m || generatedCounts.length != m) {
      throw new IllegalArgumentException(
          "need one parameter set and one count per row: "
              + m
              + " rows, "
              + params.length
              + " parameters, "
              + generatedCounts.length
              + " counts");
    }
    List<Integer> sampledRows = new ArrayList<>();
    boolean anyGreedy = false;
    boolean greedyLogprobs = false;
    for (int i = 0; i < m; i++) {
      SamplingParams p = params[i];
      if (p == null) {
        continue;
      }
      if (p.isGreedy()) {
        anyGreedy = true;
        greedyLogprobs |= p.logprobs();
      } else {
        sampledRows.add(i);
      }
    }
    int ms = sampledRows.size();
    float[] out;
    NDManager owner = logits.getManager();
    try (NDManager sm = owner.newSubManager()) {
      logits.tempAttach(sm); // every result below lands in sm and is closed with it
      NDArray x =
          logits.getDataType() == DataType.FLOAT32
              ? logits
              : logits.toType(DataType.FLOAT32, false); // [M, W]
      NDList parts = new NDList();
      // A finite row sums to a finite value (|logit| < 1e30 is all a model makes); a NaN or an
      // infinity anywhere makes the sum NaN or infinite. One reduction instead of isnan/isinf.
      parts.add(x.sum(new int[] {1})); // [M]
      if (anyGreedy) {
        NDArray g = x.argMax(1); // [M] int64
        parts.add(g.toType(DataType.FLOAT32, false)); // [M] (ids < 2^24 are exact)
        if (greedyLogprobs) {
          parts.add(x.logSoftmax(1).gather(g.reshape(m, 1), 1).reshape(m)); // [M] at temperature 1
        }
      }
      if (ms > 0) {
        sampled(sm, x, w, sampledRows, params, generatedCounts, parts);
      }
      out = NDArrays.concat(parts, 0).toFloatArray(); // the one device -> host copy
    }
    return unpack(out, m, params, anyGreedy, greedyLogprobs, sampledRows);
  }

  /** Appends the sampled rows' ids {@code [Ms]} and log-probabilities {@code [Ms]} to parts. */
  private static void sampled(
      NDManager sm,
      NDArray x,
      int w,
      List<Integer> rows,
      SamplingParams[] params,
      int[] generatedCounts,
      NDList parts) {
    int ms = rows.size();
    long[] idx = new long[ms];
    float[] invT = new float[ms];
    long[] kthAt = new long[ms];
    double[] limit = new double[ms];
    double[] u = new double[ms];
    for (int r = 0; r < ms; r++) {
      int i = rows.get(r);
      SamplingParams p = params[i];
      idx[r] = i;
      invT[r] = 1f / p.temperature();
      int k = p.topK() > 0 && p.topK() < w ? p.topK() : w;
      kthAt[r] = w - k; // ascending order: the k-th largest
      limit[r] = p.topP() < 1f ? 1.0 - p.topP() : 0.0;
      u[r] = new SplittableRandom(Sampler.mix(p.seed(), generatedCounts[i])).nextDouble();
    }
    NDArray zero = sm.create(0.0); // [] fp64
    NDArray xs = x.get(new NDIndex("{}", sm.create(idx))).mul(sm.create(invT, new Shape(ms, 1)));
    // xs: [Ms, W] fp32, temperature applied as the host does (x * (1/t) in fp32)
    NDArray asc = xs.sort(1); // [Ms, W] ascending
    NDArray kth = asc.gather(sm.create(kthAt, new Shape(ms, 1)), 1); // [Ms, 1]
    NDArray max = asc.get(new NDIndex(":, {}:", w - 1)); // [Ms, 1]
    NDArray e =
        NDArrays.where(
            xs.gte(kth), xs.sub(max).toType(DataType.FLOAT64, false).exp(), zero); // [Ms, W]
    NDArray s = e.sum(new int[] {1}, true); // [Ms, 1]
    NDArray prob = e.div(s); // [Ms, W] fp64, the host's softmax
    NDArray ascProb =
        NDArrays.where(asc.gte(kth), asc.sub(max).toType(DataType.FLOAT64, false).exp(), zero)
            .div(s); // [Ms, W] the same probabilities, ascending
    NDArray removed =
        ascProb
            .cumSum(1)
            .get(new NDIndex(":, :{}", w - 1))
            .lte(sm.create(limit, new Shape(ms, 1)))
            .sum(new int[] {1}, true)
            .toType(DataType.INT64, false); // [Ms, 1] cut from the bottom, the best always kept
    NDArray smallestKept = ascProb.gather(removed, 1); // [Ms, 1]
    NDArray kept = NDArrays.where(prob.gte(smallestKept), prob, zero); // [Ms, W]
    NDArray fin = kept.div(kept.sum(new int[] {1}, true)); // [Ms, W] renormalized
    NDArray id =
        fin.cumSum(1)
            .lte(sm.create(u, new Shape(ms, 1)))
            .sum(new int[] {1})
            .toType(DataType.INT64, false)
            .minimum(w - 1); // [Ms] first id whose cumulative mass exceeds u
    NDArray lp = fin.gather(id.reshape(ms, 1), 1).log().reshape(ms); // [Ms] fp64
    parts.add(id.toType(DataType.FLOAT32, false));
    parts.add(lp.toType(DataType.FLOAT32, false));
  }

  private static Picks unpack(
      float[] out,
      int m,
      SamplingParams[] params,
      boolean anyGreedy,
      boolean greedyLogprobs,
      List<Integer> sampledRows) {
    boolean[] finite = new boolean[m];
    int[] ids = new int[m];
    float[] lps = new float[m];
    int at = 0;
    for (int i = 0; i < m; i++) {
      finite[i] = Float.isFinite(out[at + i]);
      ids[i] = -1;
      lps[i] = Float.NaN;
    }
    at += m;
    if (anyGreedy) {
      for (int i = 0; i < m; i++) {
        if (params[i] != null && params[i].isGreedy()) {
          ids[i] = (int) out[at + i];
          if (params[i].logprobs()) {
            lps[i] = out[at + m + i];
          }
        }
      }
      at += greedyLogprobs ? 2 * m : m;
    }
    int ms = sampledRows.size();
    for (int r = 0; r < ms; r++) {
      int i = sampledRows.get(r);
      ids[i] = (int) out[at + r];
      lps[i] = out[at + ms + r];
    }
    return new Picks(finite, ids, lps);
  }
}

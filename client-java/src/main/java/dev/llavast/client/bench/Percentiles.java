package dev.llavast.client.bench;

import java.util.Arrays;

/** Nearest-rank percentiles of a sample. Stateless; any thread. */
public final class Percentiles {
  private Percentiles() {}

  /**
   * The p-th percentile (0 &lt; p &lt;= 100) by the nearest-rank method: the smallest value such
   * that at least p% of the sample is &lt;= it, i.e. sorted[ceil(p/100 * n) - 1]. NaN for an empty
   * sample.
   */
  public static double of(double[] values, double p) {
    if (!(p > 0 && p <= 100)) {
      throw new IllegalArgumentException("percentile must be in (0, 100], got " + p);
    }
    if (values.length == 0) {
      return Double.NaN;
    }
    double[] s = values.clone();
    Arrays.sort(s);
    int rank = (int) Math.ceil(p / 100.0 * s.length);
    return s[Math.max(0, rank - 1)];
  }
}

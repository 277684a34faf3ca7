package dev.llavast.models;

/** Test-only plain-Java layers (double accumulation), independent of the DJL code. */
public final class JavaNn {
  private JavaNn() {}

  /** {@code x [in]}, {@code w [out, in]} row-major, {@code b [out]} or null. */
  public static double[] lin(double[] x, float[] w, float[] b) {
    int out = w.length / x.length;
    double[] y = new double[out];
    for (int r = 0; r < out; r++) {
      double s = b == null ? 0 : b[r];
      for (int i = 0; i < x.length; i++) {
        s += x[i] * w[r * x.length + i];
      }
      y[r] = s;
    }
    return y;
  }

  public static double[] layerNorm(double[] x, float[] w, float[] b, double eps) {
    double mean = 0;
    for (double v : x) {
      mean += v;
    }
    mean /= x.length;
    double var = 0;
    for (double v : x) {
      var += (v - mean) * (v - mean);
    }
    var /= x.length;
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = (x[i] - mean) / Math.sqrt(var + eps) * w[i] + b[i];
    }
    return y;
  }

  /**
   * erf by its Maclaurin series (|x| < 3) or continued fraction tail; ~1e-12 for the values tests
   * use.
   */
  public static double erf(double x) {
    if (Math.abs(x) > 5) {
      return Math.signum(x);
    }
    double sum = 0;
    double term = x;
    for (int n = 0; n < 200; n++) {
      sum += term / (2 * n + 1);
      term *= -x * x / (n + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  }

  public static double[] geluErf(double[] x) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = 0.5 * x[i] * (1 + erf(x[i] / Math.sqrt(2)));
    }
    return y;
  }

  public static double[] geluTanh(double[] x) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double v = x[i];
      y[i] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    }
    return y;
  }

  /**
   * Multi-head attention of queries {@code q[i]} over keys/values {@code k[j], v[j]} (already
   * projected).
   */
  public static double[][] mha(
      double[][] q, double[][] k, double[][] v, int heads, boolean[][] allowed) {
    int d = q[0].length / heads;
    double[][] out = new double[q.length][q[0].length];
    for (int i = 0; i < q.length; i++) {
      for (int h = 0; h < heads; h++) {
        double[] s = new double[k.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < k.length; j++) {
          if (allowed != null && !allowed[i][j]) {
            s[j] = Double.NEGATIVE_INFINITY;
            continue;
          }
          double dot = 0;
          for (int e = 0; e < d; e++) {
            dot += q[i][h * d + e] * k[j][h * d + e];
          }
          s[j] = dot / Math.sqrt(d);
          max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < k.length; j++) {
          s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
          sum += s[j];
        }
        for (int e = 0; e < d; e++) {
          double acc = 0;
          for (int j = 0; j < k.length; j++) {
            acc += s[j] / sum * v[j][h * d + e];
          }
          out[i][h * d + e] = acc;
        }
      }
    }
    return out;
  }

  public static double[] row(float[] a, int row, int c) {
    double[] r = new double[c];
    for (int i = 0; i < c; i++) {
      r[i] = a[row * c + i];
    }
    return r;
  }

  public static float[] slice(float[] a, int from, int len) {
    float[] r = new float[len];
    System.arraycopy(a, from, r, 0, len);
    return r;
  }
}

package dev.llavast.models.lape;

/**
 * {@code F.interpolate(mode='linear', align_corners=False)} along one axis, as PyTorch computes it
 * in fp32: output {@code i} reads source {@code src = (in/out)(i + 0.5) - 0.5} clamped at 0, {@code
 * i0 = floor(src)}, {@code λ = src - i0} is the weight of {@code min(i0 + 1, in - 1)}. Immutable;
 * any thread.
 *
 * @param i0 left source index per output
 * @param i1 right source index per output
 * @param lambda weight of {@code i1} per output
 */
public record LinearResample(int[] i0, int[] i1, float[] lambda) {

  /** The half-pixel weights for resampling {@code in} rows to {@code out} rows. */
  public static LinearResample of(int in, int out) {
    if (in <= 0 || out <= 0) {
      throw new IllegalArgumentException("resample sizes must be > 0, got " + in + " -> " + out);
    }
    float scale = (float) in / out;
    int[] i0 = new int[out];
    int[] i1 = new int[out];
    float[] lambda = new float[out];
    for (int i = 0; i < out; i++) {
      float src = scale * (i + 0.5f) - 0.5f;
      if (src < 0f) {
        src = 0f;
      }
      int lo = Math.min((int) Math.floor(src), in - 1);
      float l = Math.min(Math.max(src - lo, 0f), 1f);
      i0[i] = lo;
      i1[i] = lo < in - 1 ? lo + 1 : lo;
      lambda[i] = l;
    }
    return new LinearResample(i0, i1, lambda);
  }

  /** The resample as a dense {@code [out, in]} row-major matrix (two non-zeros per row). */
  public float[] matrix(int in) {
    int out = i0.length;
    float[] m = new float[out * in];
    for (int i = 0; i < out; i++) {
      m[i * in + i0[i]] += 1f - lambda[i];
      m[i * in + i1[i]] += lambda[i];
    }
    return m;
  }
}

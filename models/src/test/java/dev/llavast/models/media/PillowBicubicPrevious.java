package dev.llavast.models.media;

import dev.llavast.models.media.PillowBicubic.Coefficients;

/**
 * The previous {@link PillowBicubic} (scalar horizontal pass over interleaved RGB, vectorised
 * vertical pass), kept in test sources only so {@link ResizeBench} can time it against the current
 * one in the same run. Same bytes as {@link PillowBicubicReference}; not used by product code.
 *
 * <p>Stateless apart from per-thread scratch; any thread.
 */
final class PillowBicubicPrevious {
  private static final int PRECISION_BITS = 32 - 8 - 2;

  /**
   * Per-thread scratch for the intermediate image: a pool thread resizes frame after frame of one
   * size, and a fresh megabyte-sized array per frame (zeroed, often in newly touched pages) costs
   * more than the arithmetic. Grows to the largest intermediate the thread has needed.
   */
  private static final ThreadLocal<int[][]> SCRATCH = ThreadLocal.withInitial(() -> new int[3][]);

  /** A scratch array of at least {@code n} ints (contents undefined), slot {@code i}. */
  private static int[] scratch(int i, int n) {
    int[][] s = SCRATCH.get();
    if (s[i] == null || s[i].length < n) {
      s[i] = new int[n];
    }
    return s[i];
  }

  private PillowBicubicPrevious() {}

  /**
   * Resizes {@code src} to {@code outW x outH}; returns {@code src} itself when the size is
   * unchanged.
   */
  static RgbImage resize(RgbImage src, int outW, int outH) {
    if (outW <= 0 || outH <= 0) {
      throw new IllegalArgumentException("output size must be positive, got " + outW + "x" + outH);
    }
    int inW = src.width();
    int inH = src.height();
    if (outW == inW && outH == inH) {
      return src;
    }
    byte[] in = src.rgb(); // [inH, inW, 3]
    byte[] out = new byte[outH * outW * 3]; // [outH, outW, 3]
    if (outH == inH) {
      int[] rows = scratch(0, inH * outW * 3); // [inH, outW, 3]
      horizontal(in, inW, 0, inH, outW, PillowBicubic.cachedCoefficients(inW, outW), rows);
      toBytes(rows, out);
    } else if (outW == inW) {
      int[] rows = scratch(0, inH * inW * 3); // [inH, inW, 3]
      for (int i = 0; i < in.length; i++) {
        rows[i] = in[i] & 0xff;
      }
      vertical(rows, inW * 3, 0, outH, PillowBicubic.cachedCoefficients(inH, outH), out);
    } else {
      Coefficients cv = PillowBicubic.cachedCoefficients(inH, outH);
      int[] vb = cv.bounds();
      // Only the rows the vertical pass reads.
      int first = vb[0];
      int last = vb[outH * 2 - 2] + vb[outH * 2 - 1];
      int[] rows = scratch(0, (last - first) * outW * 3); // [last - first, outW, 3]
      horizontal(
          in, inW, first, last - first, outW, PillowBicubic.cachedCoefficients(inW, outW), rows);
      vertical(rows, outW * 3, first, outH, cv, out);
    }
    return new RgbImage(outW, outH, out);
  }

  /**
   * Horizontal pass: rows {@code [firstRow, firstRow + rows)} of {@code in} ({@code [*, inW, 3]}
   * bytes) resampled to {@code outW} columns, clipped to 0..255, into {@code out} ({@code [rows,
   * outW, 3]} ints).
   */
  private static void horizontal(
      byte[] in, int inW, int firstRow, int rows, int outW, Coefficients c, int[] out) {
    int ksize = c.ksize();
    int[] bounds = c.bounds();
    int[] k = c.weights();
    int half = 1 << (PRECISION_BITS - 1);
    int inStride = inW * 3;
    int[] row = scratch(1, inStride); // [inW, 3]: one input row widened once, read ksize times
    for (int y = 0; y < rows; y++) {
      int inRow = (y + firstRow) * inStride;
      for (int i = 0; i < inStride; i++) {
        row[i] = in[inRow + i] & 0xff;
      }
      int o = y * outW * 3;
      for (int xx = 0; xx < outW; xx++, o += 3) {
        int xmin = bounds[xx * 2];
        int n = bounds[xx * 2 + 1];
        int kb = xx * ksize;
        int s0 = half;
        int s1 = half;
        int s2 = half;
        int p = xmin * 3;
        for (int x = 0; x < n; x++, p += 3) {
          int w = k[kb + x];
          s0 += row[p] * w;
          s1 += row[p + 1] * w;
          s2 += row[p + 2] * w;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      }
    }
  }

  /**
   * Vertical pass: {@code in} ({@code [*, stride]} ints 0..255 whose row 0 is input row {@code
   * rowOffset}) resampled to {@code outH} rows into {@code out} ({@code [outH, stride]} bytes).
   */
  private static void vertical(
      int[] in, int stride, int rowOffset, int outH, Coefficients c, byte[] out) {
    int ksize = c.ksize();
    int[] bounds = c.bounds();
    int[] k = c.weights();
    int half = 1 << (PRECISION_BITS - 1);
    int[] acc = scratch(2, stride); // [stride]: one output row's sums
    for (int yy = 0; yy < outH; yy++) {
      int ymin = bounds[yy * 2] - rowOffset;
      int n = bounds[yy * 2 + 1];
      int kb = yy * ksize;
      java.util.Arrays.fill(acc, 0, stride, half);
      for (int y = 0; y < n; y++) {
        int w = k[kb + y];
        int p = (ymin + y) * stride;
        for (int i = 0; i < stride; i++) {
          acc[i] += in[p + i] * w;
        }
      }
      int o = yy * stride;
      for (int i = 0; i < stride; i++) {
        out[o + i] = (byte) clip8(acc[i]);
      }
    }
  }

  private static void toBytes(int[] v, byte[] out) {
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) v[i];
    }
  }

  private static int clip8(int acc) {
    int v = acc >> PRECISION_BITS;
    return v < 0 ? 0 : (v > 255 ? 255 : v);
  }
}

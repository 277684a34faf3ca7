package dev.llavast.models.media;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A port of Pillow's 8-bit {@code BICUBIC} resampling ({@code Image.resize(size, Image.BICUBIC)},
 * Pillow 9.x, no box, no reducing gap), written from the algorithm's description, so our pixels
 * match the reference's.
 *
 * <ul>
 *   <li>Separable: a horizontal pass into a temporary image that holds only the rows the vertical
 *       pass reads, then a vertical pass. A pass is skipped when its axis keeps its size.
 *   <li>Kernel: Keys cubic with {@code a = -0.5}, support 2. When shrinking, the support grows by
 *       the scale factor and the kernel is stretched by it (antialiasing); when enlarging the scale
 *       factor is 1.
 *   <li>Per output sample: window {@code [trunc(center - support + 0.5), trunc(center + support +
 *       0.5))} clipped to the input, weights normalised to sum 1 in double precision, then turned
 *       into 22-bit fixed point (rounded away from zero).
 *   <li>Accumulation in 32-bit ints starting at {@code 1 << 21} (rounding), result {@code >> 22}
 *       clamped to 0..255 after each pass.
 * </ul>
 *
 * Laid out the way Pillow's C is for speed: coefficients are computed once per (input size, output
 * size) and cached, the horizontal pass writes its clipped 8-bit result into an {@code int[]} so
 * the vertical pass is a plain multiply-add over primitive ints that the JIT vectorises, and
 * nothing is boxed or copied beyond the two passes. The arithmetic (and so every output byte) is
 * the same as the straightforward port it replaced, which the tests keep as the reference.
 *
 * <p>Stateless apart from the coefficient cache (thread-safe); any thread.
 */
final class PillowBicubic {
  private static final int PRECISION_BITS = 32 - 8 - 2;
  private static final double SUPPORT = 2.0;
  private static final double A = -0.5;

  /** Distinct (input, output) sizes whose coefficients are kept; a video needs two. */
  private static final int CACHE_ENTRIES = 64;

  private static final Map<Long, Coefficients> CACHE = new ConcurrentHashMap<>();

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

  private PillowBicubic() {}

  /** Pillow's {@code bicubic_filter}, with the same operation order. */
  static double filter(double x) {
    if (x < 0.0) {
      x = -x;
    }
    if (x < 1.0) {
      return ((A + 2.0) * x - (A + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
      return (((x - 5) * x + 8) * x - 4) * A;
    }
    return 0.0;
  }

  /**
   * Fixed-point weights for resampling one axis of {@code inSize} samples to {@code outSize}.
   *
   * @param ksize weights per output sample (some trailing ones are 0)
   * @param bounds {@code [outSize, 2]}: first input index and number of inputs per output sample
   * @param weights {@code [outSize, ksize]} fixed-point weights, scale {@code 1 << 22}
   */
  record Coefficients(int ksize, int[] bounds, int[] weights) {}

  static Coefficients coefficients(int inSize, int outSize) {
    double in0 = 0.0;
    double in1 = inSize;
    double scale = (in1 - in0) / outSize;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = SUPPORT * filterscale;
    int ksize = (int) Math.ceil(support) * 2 + 1;
    double[] pre = new double[outSize * ksize];
    int[] bounds = new int[outSize * 2];
    double ss = 1.0 / filterscale;
    for (int xx = 0; xx < outSize; xx++) {
      double center = in0 + (xx + 0.5) * scale;
      double ww = 0.0;
      int xmin = (int) (center - support + 0.5);
      if (xmin < 0) {
        xmin = 0;
      }
      int xmax = (int) (center + support + 0.5);
      if (xmax > inSize) {
        xmax = inSize;
      }
      xmax -= xmin;
      int base = xx * ksize;
      for (int x = 0; x < xmax; x++) {
        double w = filter((x + xmin - center + 0.5) * ss);
        pre[base + x] = w;
        ww += w;
      }
      for (int x = 0; x < xmax; x++) {
        if (ww != 0.0) {
          pre[base + x] /= ww;
        }
      }
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
    int[] fixed = new int[pre.length];
    double one = 1 << PRECISION_BITS;
    for (int i = 0; i < pre.length; i++) {
      fixed[i] = pre[i] < 0 ? (int) (-0.5 + pre[i] * one) : (int) (0.5 + pre[i] * one);
    }
    return new Coefficients(ksize, bounds, fixed);
  }

  /** {@link #coefficients}, cached: every frame of a video shares them. */
  static Coefficients cachedCoefficients(int inSize, int outSize) {
    long key = ((long) inSize << 32) | (outSize & 0xffffffffL);
    Coefficients c = CACHE.get(key);
    if (c == null) {
      c = coefficients(inSize, outSize);
      if (CACHE.size() >= CACHE_ENTRIES) {
        CACHE.clear(); // odd sizes from many images: start over rather than grow without bound
      }
      CACHE.put(key, c);
    }
    return c;
  }

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
      horizontal(in, inW, 0, inH, outW, cachedCoefficients(inW, outW), rows);
      toBytes(rows, out);
    } else if (outW == inW) {
      int[] rows = scratch(0, inH * inW * 3); // [inH, inW, 3]
      for (int i = 0; i < in.length; i++) {
        rows[i] = in[i] & 0xff;
      }
      vertical(rows, inW * 3, 0, outH, cachedCoefficients(inH, outH), out);
    } else {
      Coefficients cv = cachedCoefficients(inH, outH);
      int[] vb = cv.bounds();
      // Only the rows the vertical pass reads.
      int first = vb[0];
      int last = vb[outH * 2 - 2] + vb[outH * 2 - 1];
      int[] rows = scratch(0, (last - first) * outW * 3); // [last - first, outW, 3]
      horizontal(in, inW, first, last - first, outW, cachedCoefficients(inW, outW), rows);
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

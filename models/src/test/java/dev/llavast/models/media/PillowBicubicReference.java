package dev.llavast.models.media;

/**
 * The first, straightforward port of Pillow's BICUBIC resize, kept in test sources as the
 * independent reference the fast {@link PillowBicubic} is checked against (and the "before" of the
 * media benchmark). Do not optimise it: its value is being simple.
 *
 * <p>A port of Pillow's 8-bit {@code BICUBIC} resampling ({@code Image.resize(size,
 * Image.BICUBIC)}, Pillow 9.x, no box, no reducing gap), written from the algorithm's description,
 * so our pixels match the reference's.
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
 * Stateless; any thread.
 */
final class PillowBicubicReference {
  private static final int PRECISION_BITS = 32 - 8 - 2;
  private static final double SUPPORT = 2.0;
  private static final double A = -0.5;

  private PillowBicubicReference() {}

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

  private static int clip8(int acc) {
    int v = acc >> PRECISION_BITS;
    return v < 0 ? 0 : (v > 255 ? 255 : v);
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
    boolean horizontal = outW != inW;
    boolean vertical = outH != inH;
    if (!horizontal && !vertical) {
      return src;
    }
    Coefficients cv = vertical ? coefficients(inH, outH) : null;
    byte[] cur = src.rgb();
    int curW = inW;
    int curH = inH;
    int rowOffset = 0;
    int[] vbounds = null;
    if (vertical) {
      vbounds = cv.bounds().clone();
    }
    if (horizontal) {
      int first = 0;
      int last = inH;
      if (vertical) {
        // Only the rows the vertical pass reads.
        first = vbounds[0];
        last = vbounds[outH * 2 - 2] + vbounds[outH * 2 - 1];
        for (int i = 0; i < outH; i++) {
          vbounds[i * 2] -= first;
        }
      }
      Coefficients ch = coefficients(inW, outW);
      cur = horizontalPass(cur, inW, first, last - first, outW, ch);
      curW = outW;
      curH = last - first;
      rowOffset = first;
    }
    if (vertical) {
      cur = verticalPass(cur, curW, outH, cv.ksize(), vbounds, cv.weights());
      curH = outH;
    }
    assert rowOffset >= 0 && curH == outH;
    return new RgbImage(outW, outH, cur);
  }

  // in: [inH, inW, 3]; reads rows [firstRow, firstRow + rows); out: [rows, outW, 3]
  private static byte[] horizontalPass(
      byte[] in, int inW, int firstRow, int rows, int outW, Coefficients c) {
    byte[] out = new byte[rows * outW * 3];
    int ksize = c.ksize();
    int[] bounds = c.bounds();
    int[] k = c.weights();
    int half = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < rows; y++) {
      int inRow = (y + firstRow) * inW * 3;
      int outRow = y * outW * 3;
      for (int xx = 0; xx < outW; xx++) {
        int xmin = bounds[xx * 2];
        int xmax = bounds[xx * 2 + 1];
        int kb = xx * ksize;
        int s0 = half;
        int s1 = half;
        int s2 = half;
        int p = inRow + xmin * 3;
        for (int x = 0; x < xmax; x++, p += 3) {
          int w = k[kb + x];
          s0 += (in[p] & 0xff) * w;
          s1 += (in[p + 1] & 0xff) * w;
          s2 += (in[p + 2] & 0xff) * w;
        }
        int o = outRow + xx * 3;
        out[o] = (byte) clip8(s0);
        out[o + 1] = (byte) clip8(s1);
        out[o + 2] = (byte) clip8(s2);
      }
    }
    return out;
  }

  // in: [*, w, 3]; out: [outH, w, 3]
  private static byte[] verticalPass(byte[] in, int w, int outH, int ksize, int[] bounds, int[] k) {
    byte[] out = new byte[outH * w * 3];
    int half = 1 << (PRECISION_BITS - 1);
    int stride = w * 3;
    int[] acc = new int[stride];
    for (int yy = 0; yy < outH; yy++) {
      int ymin = bounds[yy * 2];
      int ymax = bounds[yy * 2 + 1];
      int kb = yy * ksize;
      java.util.Arrays.fill(acc, half);
      for (int y = 0; y < ymax; y++) {
        int wy = k[kb + y];
        int p = (ymin + y) * stride;
        for (int i = 0; i < stride; i++) {
          acc[i] += (in[p + i] & 0xff) * wy;
        }
      }
      int outRow = yy * stride;
      for (int i = 0; i < stride; i++) {
        out[outRow + i] = (byte) clip8(acc[i]);
      }
    }
    return out;
  }
}

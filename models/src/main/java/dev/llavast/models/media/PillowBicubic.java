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
 * Laid out for the JIT rather than like Pillow's C: coefficients are computed once per (input size,
 * output size) and cached, and both passes are the same contiguous multiply-add over {@code int[]}
 * rows ({@link #weightedSum}), which C2 vectorises. The vertical pass is one naturally; the
 * horizontal pass, a short dot product per output pixel over interleaved RGB (gather-like, scalar),
 * is turned into one by transposing bands of rows first. The intermediate rows are separate arrays
 * ({@code int[][]}), not one flat array with offsets: C2 (JDK 17) does not vectorise {@code acc[i]
 * += src[p + i] * w} when {@code src} and {@code acc} might be the same array read at another
 * offset, and reads at the same index of distinct row arrays have no such doubt. The arithmetic
 * (and so every output byte) is the reference's, which the tests keep ({@code
 * PillowBicubicReference}).
 *
 * <p>Stateless apart from the coefficient cache (thread-safe) and per-thread scratch; any thread.
 */
final class PillowBicubic {
  private static final int PRECISION_BITS = 32 - 8 - 2;
  private static final double SUPPORT = 2.0;
  private static final double A = -0.5;

  /** Distinct (input, output) sizes whose coefficients are kept; a video needs two. */
  private static final int CACHE_ENTRIES = 64;

  private static final Map<Long, Coefficients> CACHE = new ConcurrentHashMap<>();

  /**
   * Rows per band of the horizontal pass: its transposed block ({@code [inW][BAND, 3]} ints, 250 KB
   * at 320 px) stays in the second-level cache and each weighted sum is 192 ints long.
   */
  private static final int BAND = 64;

  /** Input columns per block when transposing a band, so the columns written stay in L1. */
  private static final int TRANSPOSE_COLUMNS = 128;

  /**
   * Output columns of a band computed before they are written back into the rows, so each row is
   * visited once per block ({@code 3 * OUT_COLUMNS} contiguous ints) rather than once per column.
   */
  private static final int OUT_COLUMNS = 16;

  /**
   * Per-thread scratch: a pool thread resizes frame after frame of one size, and fresh
   * megabyte-sized arrays per frame (zeroed, often in newly touched pages) cost more than the
   * arithmetic. Each array grows to the largest the thread has needed; contents are undefined.
   */
  private static final class Scratch {
    /** The intermediate image, one array per row: {@code [rows][>= outW * 3]}. */
    int[][] rows = new int[0][];

    /** A transposed band, one array per input column: {@code [inW][>= band * 3]}. */
    int[][] cols = new int[0][];

    /** One output row's sums (vertical pass). */
    int[] acc = new int[0];

    /**
     * A block of output columns of a band (horizontal pass): {@code [OUT_COLUMNS][>= band * 3]}.
     */
    int[][] accs = new int[0][];

    int[] acc(int n) {
      if (acc.length < n) {
        acc = new int[n];
      }
      return acc;
    }

    /** {@code a} with at least {@code count} arrays of at least {@code len} ints. */
    static int[][] grow(int[][] a, int count, int len) {
      int[][] g = a.length < count ? java.util.Arrays.copyOf(a, count) : a;
      for (int i = 0; i < count; i++) {
        if (g[i] == null || g[i].length < len) {
          g[i] = new int[len];
        }
      }
      return g;
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

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
    Scratch sc = SCRATCH.get();
    if (outH == inH) {
      sc.rows = Scratch.grow(sc.rows, inH, outW * 3); // [inH][outW, 3]
      int[][] rows = sc.rows;
      horizontal(in, inW, 0, inH, outW, cachedCoefficients(inW, outW), rows, sc);
      for (int y = 0; y < inH; y++) {
        toBytes(rows[y], out, y * outW * 3, outW * 3);
      }
    } else if (outW == inW) {
      int stride = inW * 3;
      sc.rows = Scratch.grow(sc.rows, inH, stride); // [inH][inW, 3]
      int[][] rows = sc.rows;
      for (int y = 0; y < inH; y++) {
        int[] row = rows[y];
        for (int i = 0, p = y * stride; i < stride; i++, p++) {
          row[i] = in[p] & 0xff;
        }
      }
      vertical(rows, stride, 0, outH, cachedCoefficients(inH, outH), out, sc);
    } else {
      Coefficients cv = cachedCoefficients(inH, outH);
      int[] vb = cv.bounds();
      // Only the rows the vertical pass reads.
      int first = vb[0];
      int last = vb[outH * 2 - 2] + vb[outH * 2 - 1];
      sc.rows = Scratch.grow(sc.rows, last - first, outW * 3); // [rows][outW, 3]
      int[][] rows = sc.rows;
      horizontal(in, inW, first, last - first, outW, cachedCoefficients(inW, outW), rows, sc);
      vertical(rows, outW * 3, first, outH, cv, out, sc);
    }
    return new RgbImage(outW, outH, out);
  }

  /**
   * Horizontal pass: rows {@code [firstRow, firstRow + rows)} of {@code in} ({@code [*, inW, 3]}
   * bytes) resampled to {@code outW} columns, clipped to 0..255, into {@code out} ({@code
   * [rows][outW, 3]} ints).
   *
   * <p>Band by band of {@link #BAND} rows: the band is transposed to {@code [inW][band, 3]}, so
   * that input column {@code x} of every row of the band is one contiguous array; each output
   * column of the band is then a weighted sum of a few such arrays ({@link #weightedSum},
   * vectorised), clipped, and written back into the rows of {@code out}, {@link #OUT_COLUMNS}
   * columns at a time.
   */
  private static void horizontal(
      byte[] in,
      int inW,
      int firstRow,
      int rows,
      int outW,
      Coefficients c,
      int[][] out,
      Scratch sc) {
    int ksize = c.ksize();
    int[] bounds = c.bounds();
    int[] k = c.weights();
    int band = Math.min(BAND, rows);
    sc.cols = Scratch.grow(sc.cols, inW, band * 3); // [inW][band, 3]
    int[][] cols = sc.cols;
    // [OUT_COLUMNS][band, 3]: a block of output columns of the band
    sc.accs = Scratch.grow(sc.accs, OUT_COLUMNS, band * 3);
    int[][] accs = sc.accs;
    for (int y0 = 0; y0 < rows; y0 += band) {
      int r = Math.min(band, rows - y0);
      int len = r * 3;
      transposeIn(in, inW, firstRow + y0, r, cols);
      for (int x0 = 0; x0 < outW; x0 += OUT_COLUMNS) {
        int nb = Math.min(OUT_COLUMNS, outW - x0);
        for (int b = 0; b < nb; b++) {
          int xx = x0 + b;
          int[] acc = accs[b];
          weightedSum(cols, bounds[xx * 2], bounds[xx * 2 + 1], k, xx * ksize, acc, len);
          clip(acc, len);
        }
        for (int y = 0, i = 0; y < r; y++, i += 3) {
          int[] row = out[y0 + y];
          for (int b = 0, o = x0 * 3; b < nb; b++, o += 3) {
            int[] acc = accs[b];
            row[o] = acc[i];
            row[o + 1] = acc[i + 1];
            row[o + 2] = acc[i + 2];
          }
        }
      }
    }
  }

  /**
   * Rows {@code [y0, y0 + r)} of {@code in} ({@code [*, w, 3]} bytes) into {@code cols} ({@code
   * [w][r, 3]} ints 0..255), a block of {@link #TRANSPOSE_COLUMNS} columns at a time so the arrays
   * being written stay in the first-level cache, four rows at a time so each column array is
   * fetched once per twelve ints written.
   */
  private static void transposeIn(byte[] in, int w, int y0, int r, int[][] cols) {
    int stride = w * 3;
    for (int x0 = 0; x0 < w; x0 += TRANSPOSE_COLUMNS) {
      int x1 = Math.min(w, x0 + TRANSPOSE_COLUMNS);
      int y = 0;
      for (; y + 4 <= r; y += 4) {
        int s = (y0 + y) * stride + x0 * 3;
        int d = y * 3;
        for (int x = x0; x < x1; x++, s += 3) {
          int[] col = cols[x];
          int s1 = s + stride;
          int s2 = s1 + stride;
          int s3 = s2 + stride;
          col[d] = in[s] & 0xff;
          col[d + 1] = in[s + 1] & 0xff;
          col[d + 2] = in[s + 2] & 0xff;
          col[d + 3] = in[s1] & 0xff;
          col[d + 4] = in[s1 + 1] & 0xff;
          col[d + 5] = in[s1 + 2] & 0xff;
          col[d + 6] = in[s2] & 0xff;
          col[d + 7] = in[s2 + 1] & 0xff;
          col[d + 8] = in[s2 + 2] & 0xff;
          col[d + 9] = in[s3] & 0xff;
          col[d + 10] = in[s3 + 1] & 0xff;
          col[d + 11] = in[s3 + 2] & 0xff;
        }
      }
      for (; y < r; y++) {
        int s = (y0 + y) * stride + x0 * 3;
        int d = y * 3;
        for (int x = x0; x < x1; x++, s += 3) {
          int[] col = cols[x];
          col[d] = in[s] & 0xff;
          col[d + 1] = in[s + 1] & 0xff;
          col[d + 2] = in[s + 2] & 0xff;
        }
      }
    }
  }

  /**
   * Vertical pass: {@code in} ({@code [*][>= stride]} ints 0..255 whose row 0 is input row {@code
   * rowOffset}) resampled to {@code outH} rows into {@code out} ({@code [outH, stride]} bytes).
   */
  private static void vertical(
      int[][] in, int stride, int rowOffset, int outH, Coefficients c, byte[] out, Scratch sc) {
    int ksize = c.ksize();
    int[] bounds = c.bounds();
    int[] k = c.weights();
    int[] acc = sc.acc(stride); // [stride]: one output row's sums
    for (int yy = 0; yy < outH; yy++) {
      int ymin = bounds[yy * 2] - rowOffset;
      weightedSum(in, ymin, bounds[yy * 2 + 1], k, yy * ksize, acc, stride);
      clip(acc, stride);
      toBytes(acc, out, yy * stride, stride);
    }
  }

  /**
   * {@code acc[i] = 2^21 + sum_j src[first + j][i] * w[kb + j]} for {@code i < len}, {@code j < n}:
   * one output sample per {@code i}, from {@code n} consecutive input arrays. Taps are taken four
   * at a time so {@code acc} is loaded and stored once per four; int addition in any order gives
   * the same int, so the result is the one-tap-at-a-time reference's.
   */
  private static void weightedSum(
      int[][] src, int first, int n, int[] w, int kb, int[] acc, int len) {
    int half = 1 << (PRECISION_BITS - 1);
    int j = 0;
    if (n >= 4) {
      int[] a = src[first];
      int[] b = src[first + 1];
      int[] c = src[first + 2];
      int[] d = src[first + 3];
      int wa = w[kb];
      int wb = w[kb + 1];
      int wc = w[kb + 2];
      int wd = w[kb + 3];
      for (int i = 0; i < len; i++) {
        acc[i] = half + a[i] * wa + b[i] * wb + c[i] * wc + d[i] * wd;
      }
      j = 4;
    } else {
      java.util.Arrays.fill(acc, 0, len, half);
    }
    for (; j + 4 <= n; j += 4) {
      int[] a = src[first + j];
      int[] b = src[first + j + 1];
      int[] c = src[first + j + 2];
      int[] d = src[first + j + 3];
      int wa = w[kb + j];
      int wb = w[kb + j + 1];
      int wc = w[kb + j + 2];
      int wd = w[kb + j + 3];
      for (int i = 0; i < len; i++) {
        acc[i] += a[i] * wa + b[i] * wb + c[i] * wc + d[i] * wd;
      }
    }
    switch (n - j) {
      case 3 -> {
        int[] a = src[first + j];
        int[] b = src[first + j + 1];
        int[] c = src[first + j + 2];
        int wa = w[kb + j];
        int wb = w[kb + j + 1];
        int wc = w[kb + j + 2];
        for (int i = 0; i < len; i++) {
          acc[i] += a[i] * wa + b[i] * wb + c[i] * wc;
        }
      }
      case 2 -> {
        int[] a = src[first + j];
        int[] b = src[first + j + 1];
        int wa = w[kb + j];
        int wb = w[kb + j + 1];
        for (int i = 0; i < len; i++) {
          acc[i] += a[i] * wa + b[i] * wb;
        }
      }
      case 1 -> {
        int[] a = src[first + j];
        int wa = w[kb + j];
        for (int i = 0; i < len; i++) {
          acc[i] += a[i] * wa;
        }
      }
      default -> {}
    }
  }

  /**
   * {@code acc[i] = clamp(acc[i] >> 22, 0, 255)} for {@code i < len}, without branches or {@code
   * Math.min}/{@code max}, which C2 (JDK 17) does not vectorise here: a negative {@code v} is
   * zeroed by {@code v & ~(v >> 31)}, one above 255 saturated by {@code | ((255 - v) >> 31)} and
   * {@code & 255}.
   */
  private static void clip(int[] acc, int len) {
    for (int i = 0; i < len; i++) {
      int v = acc[i] >> PRECISION_BITS;
      acc[i] = ((v & ~(v >> 31)) | ((255 - v) >> 31)) & 255;
    }
  }

  private static void toBytes(int[] v, byte[] out, int offset, int len) {
    for (int i = 0; i < len; i++) {
      out[offset + i] = (byte) v[i];
    }
  }
}

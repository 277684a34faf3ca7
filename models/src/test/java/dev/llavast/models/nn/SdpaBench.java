package dev.llavast.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Benchmark main (not a test) of issue 16's fused attention on CPU: libtorch's {@code
 * scaled_dot_product_attention} as {@link Ops#attentionFused} calls it (a TorchScript module that
 * {@link SdpaModuleWriter} writes), against today's composed {@link Ops#attention} (matmul,
 * softmax, matmul, tiled), fp32, in one run, alternating the two paths call by call so that machine
 * noise hits both alike.
 *
 * <p>Shapes: (a) SigLIP so400m self-attention, {@code [n, 16, 729, 72]} per chunk of n frames, q
 * pre-scaled, composed with SigLIP's CPU score tile (2^18 elements); (b) the LLM's decode attention
 * at Qwen2-7B's heads (28 query heads over 4 KV heads, D 128): one query row per sequence, the G =
 * 7 heads of a KV head as rows, {@code q [B, 4, 7, 128]} against {@code keys} keys laid out as the
 * KV pool holds them ({@code [B, L, 4, 128]} seen transposed) under an additive {@code [B, 1, 1,
 * L]} mask that hides a random tail of each row's keys, composed in one tile as {@code
 * Qwen2Model.attend} does for decode rows (it never splits a query's G rows, and a decode has one
 * query). Each decode shape runs three times: "pool", keys and values a transposed view of {@code
 * [B, L, 4, 128]} as the KV pool's blocks hold them, and "contig", contiguous {@code [B, 4, L,
 * 128]}, which separates the cost of the layout from the cost of the composition.
 *
 * <p>Usage (from the repository root, after {@code ./mvnw -B -q -o -pl models -am test-compile}):
 *
 * <pre>
 * java -cp "models/target/test-classes:models/target/classes:&lt;deps&gt;" \
 *   dev.llavast.models.nn.SdpaBench [threads 1,2] [reps 5] [frames 2,10] [batches 1,8,32] [keys 2600]
 * </pre>
 *
 * Prints one table: per shape and thread count the median milliseconds of each path, their ratio
 * and the largest absolute difference between the two outputs. Single-threaded caller.
 */
public final class SdpaBench {
  private SdpaBench() {}

  public static void main(String[] args) throws Exception {
    int[] threads = ints(args.length > 0 ? args[0] : "1,2");
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    int[] frames = ints(args.length > 2 ? args[2] : "2,10");
    int[] batches = ints(args.length > 3 ? args[3] : "1,8,32");
    int keys = args.length > 4 ? Integer.parseInt(args[4]) : 2600;
    if (!Ops.fusedAttentionAvailable(Device.cpu())) {
      throw new IllegalStateException("fused attention did not load on the CPU (see the log)");
    }
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      Random rng = new Random(16);
      System.out.printf(
          Locale.ROOT,
          "%-36s %7s %12s %12s %8s %10s%n",
          "shape",
          "threads",
          "composed ms",
          "fused ms",
          "c/f",
          "max |diff|");
      for (int t : threads) {
        JniUtils.setNumThreads(t);
        for (int n : frames) {
          try (NDManager s = m.newSubManager()) {
            Shape sh = new Shape(n, 16, 729, 72);
            NDArray q = rand(s, sh, rng).muli((float) (1 / Math.sqrt(72))); // [n, H, L, D]
            NDArray k = rand(s, sh, rng); // [n, H, L, D]
            NDArray v = rand(s, sh, rng); // [n, H, L, D]
            row(
                "siglip [" + n + ",16,729,72]",
                t,
                reps,
                s,
                () -> Ops.attention(q, k, v, null, 1f, 1L << 18),
                () -> Ops.attentionFused(q, k, v, null, 1f));
          }
        }
        for (int b : batches) {
          for (String layout : new String[] {"pool", "pool+copy", "contig"}) {
            boolean paged = !layout.equals("contig");
            boolean copy = layout.equals("pool+copy");
            try (NDManager s = m.newSubManager()) {
              NDArray q = rand(s, new Shape(b, 4, 7, 128), rng).muli(0.0884f); // [B, Hkv, G, D]
              NDArray k = keys(s, b, keys, paged, rng); // [B, Hkv, L, D]
              NDArray v = keys(s, b, keys, paged, rng); // [B, Hkv, L, D]
              float[] mk = new float[b * keys];
              for (int i = 0; i < b; i++) {
                int visible = keys - rng.nextInt(keys / 4);
                for (int j = visible; j < keys; j++) {
                  mk[i * keys + j] = Float.NEGATIVE_INFINITY;
                }
              }
              NDArray mask = s.create(mk, new Shape(b, 1, 1, keys)); // [B, 1, 1, L]
              row(
                  "decode [" + b + ",4,7,128] x " + keys + " " + layout,
                  t,
                  reps,
                  s,
                  () ->
                      copy
                          ? composedCopied(q, k, v, mask)
                          : Ops.attention(q, k, v, mask, 1f, Long.MAX_VALUE),
                  () -> Ops.attentionFused(q, k, v, mask, 1f));
            }
          }
        }
      }
    }
  }

  private interface Call {
    NDArray run();
  }

  private static void row(
      String name, int threads, int reps, NDManager s, Call composed, Call fused) {
    float diff;
    try (NDManager w = s.newSubManager()) {
      NDArray a = composed.run();
      NDArray b = fused.run();
      a.attach(w);
      b.attach(w);
      diff = a.sub(b).abs().max().getFloat();
    }
    double[] tc = new double[reps];
    double[] tf = new double[reps];
    for (int r = 0; r < reps; r++) {
      tc[r] = time(s, composed);
      tf[r] = time(s, fused);
    }
    double mc = median(tc);
    double mf = median(tf);
    System.out.printf(
        Locale.ROOT,
        "%-36s %7d %12.2f %12.2f %8.2f %10.2e%n",
        name,
        threads,
        mc,
        mf,
        mc / mf,
        diff);
  }

  private static double time(NDManager s, Call c) {
    try (NDManager w = s.newSubManager()) {
      long t0 = System.nanoTime();
      NDArray out = c.run(); // computed eagerly on CPU: done when the call returns
      out.attach(w);
      return (System.nanoTime() - t0) / 1e6;
    }
  }

  private static double median(double[] a) {
    double[] c = a.clone();
    Arrays.sort(c);
    return c[c.length / 2];
  }

  /**
   * The composed path after copying pool-layout k and v to contiguous {@code [B, Hkv, L, D]} (a
   * reshape that cannot be a view copies), the copies counted in its time.
   */
  private static NDArray composedCopied(NDArray q, NDArray k, NDArray v, NDArray mask) {
    Shape s = k.getShape();
    try (NDArray kc = k.reshape(s.get(0) * s.get(1), s.get(2), s.get(3)).reshape(s); // contiguous
        NDArray vc = v.reshape(s.get(0) * s.get(1), s.get(2), s.get(3)).reshape(s)) {
      return Ops.attention(q, kc, vc, mask, 1f, Long.MAX_VALUE); // [B, Hkv, G, D]
    }
  }

  /**
   * Keys or values {@code [B, Hkv, L, D]}: with {@code paged}, a transposed view of {@code [B, L,
   * Hkv, D]} as the KV pool's blocks hold them (what the decode path feeds attention); else
   * contiguous.
   */
  private static NDArray keys(NDManager s, int b, int keys, boolean paged, Random rng) {
    return paged
        ? rand(s, new Shape(b, keys, 4, 128), rng).transpose(0, 2, 1, 3) // [B, Hkv, L, D] view
        : rand(s, new Shape(b, 4, keys, 128), rng); // [B, Hkv, L, D]
  }

  private static NDArray rand(NDManager s, Shape shape, Random rng) {
    float[] a = new float[Math.toIntExact(shape.size())];
    for (int i = 0; i < a.length; i++) {
      a[i] = rng.nextFloat() * 2 - 1;
    }
    return s.create(a, shape);
  }

  private static int[] ints(String csv) {
    return Arrays.stream(csv.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
  }
}

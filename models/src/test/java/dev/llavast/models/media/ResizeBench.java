package dev.llavast.models.media;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * The 384x384 Pillow-bicubic resize alone, per frame, for the three input sizes of the media
 * benchmark (issue 15): the reference port ({@link PillowBicubicReference}) and {@link
 * PillowBicubic}, interleaved run by run on one thread, medians of wall and thread CPU time. Checks
 * that both give the same bytes first. (The fast port that {@code PillowBicubic} replaced was timed
 * here too, in the commit that replaced it; it is in git history, not kept as a second copy.)
 *
 * <p>Run: {@code ./mvnw -B -q -o -pl models -am test-compile}, then {@code java -cp
 * models/target/classes:models/target/test-classes:$(cat cp.txt)
 * dev.llavast.models.media.ResizeBench [runs] [framesPerRun]} ({@code cp.txt} as for {@link
 * MediaDecodeBenchmark}). Compare the ratios; absolute times depend on the machine and its load.
 */
public final class ResizeBench {
  private static final int OUT = 384;

  record Impl(String name, UnaryOperator<RgbImage> resize) {}

  private static final List<Impl> IMPLS =
      List.of(
          new Impl("reference", i -> PillowBicubicReference.resize(i, OUT, OUT)),
          new Impl("current", i -> PillowBicubic.resize(i, OUT, OUT)));

  private ResizeBench() {}

  public static void main(String[] args) {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int frames = args.length > 1 ? Integer.parseInt(args[1]) : 40;
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    int[][] sizes = {{320, 480}, {320, 240}, {640, 360}};
    System.out.printf(
        Locale.ROOT,
        "resize to %dx%d, 1 thread, %d frames per run, medians of %d interleaved runs,"
            + " ms per frame (wall / thread CPU)%n",
        OUT,
        OUT,
        frames,
        runs);
    System.out.print("| input |");
    IMPLS.forEach(im -> System.out.print(" " + im.name() + " |"));
    System.out.println(" reference / current |");
    System.out.println("|---|---|---|---|");
    RgbImage[][] inputs = new RgbImage[sizes.length][4];
    for (int z = 0; z < sizes.length; z++) {
      SplittableRandom r = new SplittableRandom(sizes[z][0] * 31L + sizes[z][1]);
      for (int i = 0; i < inputs[z].length; i++) {
        inputs[z][i] = textured(r, sizes[z][0], sizes[z][1]);
      }
      byte[] expected = IMPLS.get(0).resize().apply(inputs[z][0]).rgb();
      for (Impl im : IMPLS) {
        if (!Arrays.equals(im.resize().apply(inputs[z][0]).rgb(), expected)) {
          throw new IllegalStateException(im.name() + " differs from the reference");
        }
      }
    }
    long sink = 0; // keeps the results alive
    // warm up the JIT on every shape first, as a server that has seen a few videos
    for (int w = 0; w < 200; w++) {
      for (Impl im : IMPLS) {
        for (RgbImage[] in : inputs) {
          sink += im.resize().apply(in[w % in.length]).rgb()[w];
        }
      }
    }
    for (int z = 0; z < sizes.length; z++) {
      int[] s = sizes[z];
      RgbImage[] images = inputs[z];
      double[][] wall = new double[IMPLS.size()][runs];
      double[][] cpu = new double[IMPLS.size()][runs];
      for (int run = 0; run < runs; run++) {
        for (int k = 0; k < IMPLS.size(); k++) {
          UnaryOperator<RgbImage> f = IMPLS.get(k).resize();
          long c0 = mx.getCurrentThreadCpuTime();
          long t0 = System.nanoTime();
          for (int n = 0; n < frames; n++) {
            sink += f.apply(images[n % images.length]).rgb()[n];
          }
          wall[k][run] = (System.nanoTime() - t0) / 1e6 / frames;
          cpu[k][run] = (mx.getCurrentThreadCpuTime() - c0) / 1e6 / frames;
        }
      }
      StringBuilder line = new StringBuilder("| " + s[0] + "x" + s[1] + " |");
      double[] w = new double[IMPLS.size()];
      double[] c = new double[IMPLS.size()];
      for (int k = 0; k < IMPLS.size(); k++) {
        w[k] = median(wall[k]);
        c[k] = median(cpu[k]);
        line.append(String.format(Locale.ROOT, " %.3f / %.3f |", w[k], c[k]));
      }
      line.append(String.format(Locale.ROOT, " %.2fx / %.2fx |", w[0] / w[1], c[0] / c[1]));
      System.out.println(line + (sink == 42 ? " " : ""));
    }
  }

  /** Gradients, a checkerboard and noise: every pixel differs from its neighbours. */
  private static RgbImage textured(SplittableRandom r, int w, int h) {
    byte[] px = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int p = (y * w + x) * 3;
        boolean dark = ((x >> 3) + (y >> 3)) % 2 == 0;
        px[p] = (byte) (x * 255 / w + (dark ? 0 : 40));
        px[p + 1] = (byte) (y * 255 / h + r.nextInt(16));
        px[p + 2] = (byte) r.nextInt(256);
      }
    }
    return new RgbImage(w, h, px);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}

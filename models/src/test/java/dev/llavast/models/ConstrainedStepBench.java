package dev.llavast.models;

import dev.llavast.models.sampling.CoordinateGrammar;
import dev.llavast.models.sampling.TokenMask;
import dev.llavast.models.tokenizer.SpecialTokens;
import dev.llavast.scheduler.OutputConstraint;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.scheduler.SchedulerListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Benchmark main (not a test): what coordinate-constrained decoding costs per decode step.
 *
 * <p>Part 1, the real scheduler over one {@code SMALL} CPU executor (V = 8,192 + 300 bins): 1, 8
 * and 32 streams on a cached ~2,540-token video prompt, greedy, {@code maxNewTokens} each, with
 * none, half and all of the streams under {@code COORDINATES}; the three variants of a level run
 * back to back so they share the machine's state. Reports the mean model time of the pure-decode
 * steps (the mask is built and applied inside the executor's step).
 *
 * <p>Part 2, the grammar alone at the real model's size: a synthetic 151,660-id vocabulary (2% of
 * its tokens hold a bracket, as merges like {@code " ["} or {@code "}."} do), the time to replay
 * 100 generated ids, build the mask and apply it to one {@code V + 300} row, per token.
 *
 * <p>Usage from the repository root: {@code ./mvnw -B -q -pl models -am install -DskipTests}, then
 * the main with {@code [maxNewTokens 48] [rounds 2]} on the models test class path.
 */
public final class ConstrainedStepBench {
  private ConstrainedStepBench() {}

  public static void main(String[] args) throws Exception {
    int maxNew = args.length > 0 ? Integer.parseInt(args[0]) : 48;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    maskCost();
    Path dir = Files.createTempDirectory("llavast-small-");
    TinyCheckpoints.write(dir, TinyCheckpoints.Preset.SMALL, 3);
    OutputConstraint c = new OutputConstraint(OutputConstraint.Kind.COORDINATES, "FREE_FORM", true);
    SamplingParams free = SamplingParams.greedy(maxNew);
    SamplingParams constrained = free.withConstraint(c);
    ConcurrentLinkedQueue<SchedulerListener.StepEvent> events = new ConcurrentLinkedQueue<>();
    try (LlavaSt model = LlavaSt.open(dir);
        Scheduler s = SchedulerThroughputBench.scheduler(model, 32, maxNew, 1, 512, 1, events)) {
      SchedulerThroughputBench.runStreams(
          s, model, "warmup", 4, i -> i % 2 == 0 ? free : constrained, events);
      System.out.printf(
          Locale.ROOT,
          "# SMALL, 1 torch thread, %d new tokens per stream, greedy; decode step ms%n",
          maxNew);
      System.out.printf(
          Locale.ROOT,
          "%-6s %-8s %-10s %-10s %-10s %-12s%n",
          "round",
          "streams",
          "none",
          "half",
          "all",
          "all/none");
      int video = 0;
      int[] levels = {1, 8, 32};
      double[][][] all = new double[levels.length][3][rounds];
      for (int r = 0; r < rounds; r++) {
        for (int l = 0; l < levels.length; l++) {
          int n = levels[l];
          for (int k = 0; k < 3; k++) {
            int v = (k + r) % 3; // rotate the order so no variant always runs first
            int constrainedCount = v == 0 ? 0 : v == 1 ? n / 2 : n;
            all[l][v][r] =
                SchedulerThroughputBench.runStreams(
                        s,
                        model,
                        "v" + (video++),
                        n,
                        i -> i < constrainedCount ? constrained : free,
                        events)
                    .decodeStepMillis();
          }
          System.out.printf(
              Locale.ROOT,
              "%-6d %-8d %-10.2f %-10.2f %-10.2f %-12.3f%n",
              r + 1,
              n,
              all[l][0][r],
              all[l][1][r],
              all[l][2][r],
              all[l][2][r] / all[l][0][r]);
        }
      }
      for (int l = 0; l < levels.length; l++) {
        double none = median(all[l][0]);
        double all2 = median(all[l][2]);
        System.out.printf(
            Locale.ROOT,
            "%-6s %-8d %-10.2f %-10.2f %-10.2f %-12.3f%n",
            "median",
            levels[l],
            none,
            median(all[l][1]),
            all2,
            all2 / none);
      }
    }
  }

  private static double median(double[] x) {
    double[] s = x.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** Part 2: replay + mask + apply per token with a vocabulary the size of the real tokenizer's. */
  private static void maskCost() {
    int v = 151_660;
    Random rnd = new Random(1);
    String[] texts = new String[v];
    String[] bracketed = {" [", "[", "{", " {", "}", "}.", "]", "],", ": [", "[]", "}{", "({"};
    for (int i = 0; i < v; i++) {
      texts[i] = rnd.nextInt(50) == 0 ? bracketed[rnd.nextInt(bracketed.length)] : "w" + i;
    }
    SpecialTokens special =
        new SpecialTokens(
            v, 100, v - 17, v - 16, v - 15, v - 14, v - 13, v - 12, v - 11, v - 10, v - 9, v - 8,
            v - 7, v - 6, v - 5, v - 4, v - 3, v - 2, v - 1, v, v + 100, v + 200);
    long b0 = System.nanoTime();
    CoordinateGrammar g = CoordinateGrammar.of(i -> texts[i], special);
    double buildMs = (System.nanoTime() - b0) / 1e6;
    int[] generated = new int[100];
    for (int i = 0; i < generated.length; i++) {
      generated[i] = 1000 + i; // plain words: the mask is the large "anything but brackets" set
    }
    float[] row = new float[v + 300];
    OutputConstraint c = new OutputConstraint(OutputConstraint.Kind.COORDINATES, "FREE_FORM", true);
    int[] stops = {v - 15};
    double sink = 0;
    for (int i = 0; i < 2_000; i++) { // warm-up
      sink += g.mask(c, generated, 1024, stops).apply(row, 0, row.length)[i];
    }
    int n = 5_000;
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      TokenMask m = g.mask(c, generated, 1024, stops);
      sink += m.apply(row, 0, row.length)[i % row.length];
    }
    double us = (System.nanoTime() - t0) / 1e3 / n;
    long t1 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      sink += java.util.Arrays.copyOf(row, row.length)[i % row.length];
    }
    double copyUs = (System.nanoTime() - t1) / 1e3 / n;
    System.out.printf(
        Locale.ROOT,
        "# grammar at V = %,d: built in %.0f ms (once per model); replay of 100 ids + mask"
            + " + apply %.1f us per token (the plain row copy it replaces: %.1f us) %s%n",
        v,
        buildMs,
        us,
        copyUs,
        sink == 42 ? "" : "");
  }
}

package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Benchmark main (not a test): one decode step of 1, 8 and 32 sequences that share nothing, each
 * with its own ~2,544-token context (as for questions on different videos), on the {@code SMALL}
 * preset, one CPU executor, one torch thread. Only the time matters, so the contexts are the KV
 * pool's zeros rather than prefilled videos (32 cold prefills would take about a minute here); the
 * K/V reads, the grouping and the compute are those of real contexts. The shared-prefix case is
 * {@link SchedulerThroughputBench}. Usage from the repository root:
 *
 * <pre>
 * ./mvnw -B -o -pl models -am test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp-\${project.artifactId}.txt
 * java -Dai.djl.offline=true -cp "models/target/test-classes:models/target/classes:$(cat /tmp/cp-llavast-models.txt)" \
 *   dev.llavast.models.DistinctVideoDecodeBench [steps 20]
 * </pre>
 *
 * Single-threaded: the calling thread owns the executor.
 */
public final class DistinctVideoDecodeBench {
  private static final int BLOCK = 16;
  private static final int CONTEXT = 2544;

  private DistinctVideoDecodeBench() {}

  public static void main(String[] args) throws Exception {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    int[] levels = {1, 8, 32};
    int perSeq = CONTEXT / BLOCK + 2;
    Path dir = Files.createTempDirectory("llavast-small-");
    try {
      TinyCheckpoints.write(dir, TinyCheckpoints.Preset.SMALL, 3);
      try (LlavaSt model = LlavaSt.open(dir);
          LlavaStModel ex = model.newExecutor(Device.cpu(), false, 1)) {
        ex.allocateKvCache(levels[levels.length - 1] * perSeq, BLOCK);
        PromptInput prompt = PromptInput.ofTokens(new int[CONTEXT]);
        System.out.printf(
            Locale.ROOT,
            "# SMALL, 1 CPU executor, 1 torch thread, %d-token contexts on distinct"
                + " blocks, %d timed steps after 3 warm-up steps%n",
            CONTEXT,
            steps);
        for (int n : levels) {
          long total = 0;
          for (int r = 0; r < steps + 3; r++) {
            List<SequenceStep> batch = new ArrayList<>();
            for (int i = 0; i < n; i++) {
              int[] table = new int[perSeq];
              for (int b = 0; b < perSeq; b++) {
                table[b] = i * perSeq + b;
              }
              batch.add(
                  new SequenceStep(
                      i,
                      prompt,
                      new int[] {7},
                      CONTEXT + r,
                      table,
                      true,
                      SamplingParams.greedy(64),
                      new int[] {7}));
            }
            long t0 = System.nanoTime();
            ex.step(new StepPlan(BLOCK, batch));
            if (r >= 3) {
              total += System.nanoTime() - t0;
            }
          }
          double ms = total / 1e6 / steps;
          System.out.printf(
              Locale.ROOT, "%2d sequences: %7.2f ms/step, %7.1f tok/s%n", n, ms, n * 1000 / ms);
        }
      }
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}

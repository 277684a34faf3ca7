package dev.llavast.server;

import dev.llavast.models.coords.Task;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.FinalAnswer;
import dev.llavast.server.generation.Sampling;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.media.MediaTestFiles;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.Tenant;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Report (not a test): how many answers are parseable and shaped with and without
 * coordinate-constrained decoding, {@code N} requests per task shape at temperature 1 on the demo
 * (tiny random-weight) model, through the engine. Prints one row per task and one sample answer of
 * each kind.
 *
 * <p>Run from the repository root: {@code ./mvnw -B -q -pl server -am install -DskipTests} then
 * {@code ./mvnw -B -q -pl server exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=dev.llavast.server.ConstrainedDecodingReport -Dexec.args="500"} (N defaults to
 * 500).
 */
public final class ConstrainedDecodingReport {
  private ConstrainedDecodingReport() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
    int maxNew = args.length > 1 ? Integer.parseInt(args[1]) : ConstrainedDecodingTest.MAX_NEW;
    Path dir = Files.createTempDirectory("constrained-report");
    Path model = E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 5);
    try (Engine engine =
        Engine.start(
            E2eClient.config(model, "cpu", 4096, 64 << 20, 0, 64).engine(), Metrics.noop())) {
      ConstrainedDecodingTest.engine = engine;
      Path mp4 = MediaTestFiles.movingSquare(dir.resolve("sq.mp4"), 64, 48, 30, 10);
      StoredMedia video =
          engine
              .storeWhole(
                  Tenant.OPEN,
                  DecodedMedia.Kind.VIDEO,
                  List.of(ByteBuffer.wrap(Files.readAllBytes(mp4))),
                  0)
              .get(60, TimeUnit.SECONDS);
      StoredMedia image =
          engine
              .storeWhole(
                  Tenant.OPEN,
                  DecodedMedia.Kind.IMAGE,
                  List.of(ByteBuffer.wrap(MediaTestFiles.png(80, 60, 10, 200, 30))),
                  0)
              .get(60, TimeUnit.SECONDS);
      System.out.printf(
          "%-6s %6s %22s %22s%n", "task", "n", "constrained ok/shaped", "unconstrained ok/shaped");
      int[] sum = new int[4];
      for (Task task :
          new Task[] {Task.TVG, Task.REC, Task.DGC, Task.DVC, Task.STVG, Task.SVG, Task.ELC}) {
        StoredMedia media = task == Task.REC || task == Task.DGC ? image : video;
        int[] on = rates(media, task, Sampling.Constraints.TASK_SHAPE, n, maxNew);
        int[] off = rates(media, task, Sampling.Constraints.OFF, n, maxNew);
        System.out.printf(
            "%-6s %6d %10d / %-10d %10d / %-10d%n", task, n, on[0], on[1], off[0], off[1]);
        sum[0] += on[0];
        sum[1] += on[1];
        sum[2] += off[0];
        sum[3] += off[1];
      }
      int total = 7 * n;
      System.out.printf(
          "all    %6d %9.1f%% / %-7.1f%% %9.1f%% / %-7.1f%%%n",
          total,
          100.0 * sum[0] / total,
          100.0 * sum[1] / total,
          100.0 * sum[2] / total,
          100.0 * sum[3] / total);
      System.out.println(
          "sample STVG constrained:   "
              + ConstrainedDecodingTest.ask(
                      video,
                      Task.STVG,
                      ConstrainedDecodingTest.sampling(
                          1f, 7, maxNew, Sampling.Constraints.TASK_SHAPE))
                  .get()
                  .text());
      System.out.println(
          "sample STVG unconstrained: "
              + ConstrainedDecodingTest.ask(
                      video,
                      Task.STVG,
                      ConstrainedDecodingTest.sampling(1f, 7, maxNew, Sampling.Constraints.OFF))
                  .get()
                  .text());
    }
  }

  /** {parseable, parseable and shaped} out of {@code n} answers, asked 64 at a time. */
  private static int[] rates(
      StoredMedia media, Task task, Sampling.Constraints c, int n, int maxNew) throws Exception {
    int ok = 0;
    int shaped = 0;
    for (int from = 0; from < n; from += 64) {
      List<CompletableFuture<FinalAnswer>> all = new ArrayList<>();
      for (int i = from; i < Math.min(n, from + 64); i++) {
        all.add(
            ConstrainedDecodingTest.ask(
                media, task, ConstrainedDecodingTest.sampling(1f, 10_000 + i, maxNew, c)));
      }
      for (CompletableFuture<FinalAnswer> f : all) {
        FinalAnswer a = f.get(10, TimeUnit.MINUTES);
        boolean p = ConstrainedDecodingTest.parseable(a);
        ok += p ? 1 : 0;
        shaped += p && ConstrainedDecodingTest.shaped(a) ? 1 : 0;
      }
    }
    return new int[] {ok, shaped};
  }
}

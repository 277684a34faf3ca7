package dev.llavast.models;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.llavast.models.nn.OpTimer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Benchmark main (not a test) of issue 15's vision encode: where the time of one 100-frame video's
 * encode goes on the CPU, op by op (SigLIP embedding and layer ops, projector, LAPE, STP, copies),
 * the FLOP count per frame from the configuration, the achieved GFLOP/s, and the machine's own
 * matmul GFLOP/s measured in the same run with the same thread count (a square 1024 matmul and one
 * shaped like the SigLIP MLP), so the distance to the compute limit is a ratio from one run.
 *
 * <p>Usage (from the repository root, after {@code ./mvnw -B -q -o -pl models -am test-compile}):
 *
 * <pre>
 * java -cp "models/target/test-classes:models/target/classes:scheduler/target/classes:&lt;deps&gt;" \
 *   dev.llavast.models.VisionEncodeBench [presets small,tiny] [cpuThreads 1] [runs 2]
 * </pre>
 *
 * Single-threaded: the calling thread owns every model it makes.
 */
public final class VisionEncodeBench {
  private VisionEncodeBench() {}

  public static void main(String[] args) throws Exception {
    String presets = args.length > 0 ? args[0] : "small,tiny";
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    int runs = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    Path tmp = Files.createTempDirectory("llavast-encode-bench-");
    try {
      for (String p : presets.split(",")) {
        TinyCheckpoints.Preset preset =
            TinyCheckpoints.Preset.valueOf(p.trim().toUpperCase(Locale.ROOT));
        System.out.println(run(preset, tmp.resolve(preset.name()), threads, runs));
      }
    } finally {
      try (Stream<Path> files = Files.walk(tmp)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  /** FLOPs of one frame's encode through SigLIP and the projector (multiply-add = 2). */
  static double flopsPerFrame(ModelConfig cfg) {
    ModelConfig.VisionConfig v = cfg.vision();
    double l = v.numPatches();
    double cv = v.hiddenSize();
    double p = v.patchSize();
    double in = v.intermediateSize();
    double h = v.numAttentionHeads();
    double d = v.headDim();
    double c = cfg.hiddenSize();
    double embed = 2 * l * 3 * p * p * cv;
    double layer =
        2 * l * cv * 3 * cv // qkv
            + 2 * 2 * h * l * l * d // scores and probs x v
            + 2 * l * cv * cv // out
            + 2 * 2 * l * cv * in; // fc1, fc2
    double projector = 2 * l * cv * c + 2 * l * c * c;
    return embed + v.numHiddenLayers() * layer + projector;
  }

  static String run(TinyCheckpoints.Preset preset, Path dir, int threads, int runs)
      throws Exception {
    TinyCheckpoints.write(dir, preset, 3L);
    StringBuilder out = new StringBuilder();
    try (LlavaSt model = LlavaSt.open(dir);
        LlavaStModel exec = model.newExecutor(Device.cpu(), false, threads)) {
      ModelConfig cfg = model.config();
      int s = cfg.vision().imageSize();
      int frames = cfg.numFrames();
      float[] px = new float[frames * 3 * s * s];
      Random r = new Random(5);
      for (int i = 0; i < px.length; i++) {
        px[i] = r.nextFloat() * 2 - 1;
      }
      PixelFrames video = new PixelFrames("bench", true, frames, s, px);
      double peakSquare = matmulGflops(1024, 1024, 1024);
      long lRows = 2L * cfg.vision().numPatches();
      double peakMlp =
          matmulGflops(lRows, cfg.vision().hiddenSize(), cfg.vision().intermediateSize());
      exec.encode(video); // warm
      OpTimer.Recording timer = OpTimer.recording();
      double best = Double.MAX_VALUE;
      Map<String, long[]> ops = null;
      for (int i = 0; i < runs; i++) {
        timer.clear();
        long t0 = System.nanoTime();
        exec.encode(video, timer);
        double sec = (System.nanoTime() - t0) / 1e9;
        if (sec < best) {
          best = sec;
          ops = timer.totals();
        }
      }
      double flops = flopsPerFrame(cfg);
      double achieved = flops * frames / best / 1e9;
      out.append(
          String.format(
              Locale.ROOT,
              "%s: vision %d wide x %d layers (%d heads, MLP %d), projector %d -> %d; %d frames of"
                  + " %d px; torch threads %d; load average %s%n",
              preset,
              cfg.vision().hiddenSize(),
              cfg.vision().numHiddenLayers(),
              cfg.vision().numAttentionHeads(),
              cfg.vision().intermediateSize(),
              cfg.vision().hiddenSize(),
              cfg.hiddenSize(),
              frames,
              s,
              threads,
              loadAverage()));
      out.append(
          String.format(
              Locale.ROOT,
              "encode %.3f s/video (best of %d), %.1f ms/frame; %.3f GFLOP/frame (SigLIP +"
                  + " projector) -> %.1f GFLOP/s achieved; machine matmul %.1f GFLOP/s (1024^3),"
                  + " %.1f GFLOP/s ([%d x %d] x [%d x %d]): %.0f%% of the square matmul%n",
              best,
              runs,
              best * 1000 / frames,
              flops / 1e9,
              achieved,
              peakSquare,
              peakMlp,
              lRows,
              cfg.vision().hiddenSize(),
              cfg.vision().hiddenSize(),
              cfg.vision().intermediateSize(),
              100 * achieved / peakSquare));
      out.append("| stage / op | ms per video | share | calls |\n|---|---|---|---|\n");
      List<Map.Entry<String, long[]>> rows = new ArrayList<>(ops.entrySet());
      rows.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
      long sum = 0;
      for (Map.Entry<String, long[]> e : rows) {
        sum += e.getValue()[0];
      }
      for (Map.Entry<String, long[]> e : rows) {
        out.append(
            String.format(
                Locale.ROOT,
                "| %s | %.0f | %.1f%% | %d |%n",
                e.getKey(),
                e.getValue()[0] / 1e6,
                100.0 * e.getValue()[0] / (best * 1e9),
                e.getValue()[1]));
      }
      out.append(
          String.format(
              Locale.ROOT,
              "| (untimed: task bookkeeping, managers) | %.0f | %.1f%% | |%n",
              (best * 1e9 - sum) / 1e6,
              100.0 * (best * 1e9 - sum) / (best * 1e9)));
    }
    return out.toString();
  }

  /** Best of 5 GFLOP/s of {@code [m, k] x [k, n]} in fp32 on the CPU. */
  static double matmulGflops(long m, long k, long n) {
    JniUtils.setGradMode(false);
    try (NDManager mgr = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray a = mgr.randomUniform(-1, 1, new Shape(m, k));
      NDArray b = mgr.randomUniform(-1, 1, new Shape(k, n));
      double best = Double.MAX_VALUE;
      for (int i = 0; i < 6; i++) {
        long t0 = System.nanoTime();
        try (NDArray c = a.matMul(b)) {
          c.getShape();
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        if (i > 0) {
          best = Math.min(best, sec);
        }
      }
      return 2.0 * m * k * n / best / 1e9;
    }
  }

  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }
}

package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Benchmark main (not a test): encode time per video, prefill tokens/s, decode step time at batch
 * 1/8/32, on random weights of a named size. Usage:
 * <pre>
 * ./mvnw -B -o -pl models -am test-compile
 * java -cp "models/target/test-classes:models/target/classes:scheduler/target/classes:$(cat cp.txt)" \
 *   dev.llavast.models.LlavaStBench [tiny|small] [device cpu|gpu] [videos 1] [prefillTokens 512] [context 256]
 * </pre>
 * or {@code -Pslow -Dtest=LlavaStBenchTest} which runs the tiny preset. Any thread (it owns its model).
 */
public final class LlavaStBench {
  private LlavaStBench() {}

  /** Random-weight presets with the real geometry; widths/depths shrunk. */
  static ModelConfig preset(String name) {
    return switch (name) {
      case "tiny" -> RandomWeights.tinyConfig();
      case "small" -> new ModelConfig(512, 4, 8, 2, 1408, 1e-6, 1e6, 4096, 32768, false, 128,
          new ModelConfig.VisionConfig(128, 512, 2, 2, 378, 14, 1e-6), 128, 2, 100, 100, "float32");
      default -> throw new IllegalArgumentException("unknown preset " + name + " (tiny, small)");
    };
  }

  public static void main(String[] args) {
    String name = args.length > 0 ? args[0] : "tiny";
    Device device = args.length > 1 && args[1].startsWith("gpu") ? Device.gpu() : Device.cpu();
    int videos = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    int prefill = args.length > 3 ? Integer.parseInt(args[3]) : 512;
    int context = args.length > 4 ? Integer.parseInt(args[4]) : 256;
    int threads = args.length > 5 ? Integer.parseInt(args[5]) : 0;
    System.out.println(run(preset(name), name, device, videos, prefill, context, threads));
  }

  static String run(ModelConfig cfg, String name, Device device, int videos, int prefill, int context,
      int threads) {
    StringBuilder out = new StringBuilder();
    LlavaStModel.ValueTokenIds ids = new LlavaStModel.ValueTokenIds(1, 2, 3, 4, 5, 6);
    long t0 = System.nanoTime();
    RandomWeights w = new RandomWeights(cfg, 1L);
    int block = 16;
    try (LlavaStModel m = new LlavaStModel(cfg, w, device, new LlavaStModel.Options(ids, false, 10, null, threads))) {
      out.append(String.format(Locale.ROOT, "preset %s on %s, dtype %s, cpu threads %s, load %.1f s%n", name, device,
          m.computeDtype(), threads == 0 ? "default" : threads, (System.nanoTime() - t0) / 1e9));
      int perSeqBlocks = (Math.max(prefill, context) + 64) / block + 1;
      m.allocateKvCache(perSeqBlocks * 33, block);
      int s = cfg.vision().imageSize();
      if (videos > 0) {
        float[] px = new float[cfg.numFrames() * 3 * s * s];
        for (int i = 0; i < px.length; i++) {
          px[i] = (float) Math.sin(i * 0.01);
        }
        m.encode(new PixelFrames("warm", true, cfg.numFrames(), s, px)); // warm-up
        long e0 = System.nanoTime();
        for (int v = 0; v < videos; v++) {
          m.encode(new PixelFrames("v" + v, true, cfg.numFrames(), s, px));
        }
        out.append(String.format(Locale.ROOT, "encode: %.1f ms per %d-frame video%n",
            (System.nanoTime() - e0) / 1e6 / videos, cfg.numFrames()));
      }
      int[] prompt = tokens(prefill, cfg.vocabSize());
      int[] table = range(0, perSeqBlocks);
      SamplingParams greedy = SamplingParams.greedy(64);
      step(m, block, List.of(new SequenceStep(0, PromptInput.ofTokens(prompt), prompt, 0, table, true, greedy,
          new int[0]))); // warm-up
      long p0 = System.nanoTime();
      int reps = 3;
      for (int r = 0; r < reps; r++) {
        step(m, block, List.of(new SequenceStep(0, PromptInput.ofTokens(prompt), prompt, 0, table, true, greedy,
            new int[0])));
      }
      double prefillS = (System.nanoTime() - p0) / 1e9 / reps;
      out.append(String.format(Locale.ROOT, "prefill: %d tokens in %.1f ms = %.0f tokens/s%n", prefill,
          prefillS * 1e3, prefill / prefillS));
      for (int batch : new int[] {1, 8, 32}) {
        List<SequenceStep> decodes = new ArrayList<>();
        int[] ctx = tokens(context, cfg.vocabSize());
        for (int b = 0; b < batch; b++) {
          int[] t = range(b * perSeqBlocks, (b + 1) * perSeqBlocks);
          step(m, block, List.of(new SequenceStep(b, PromptInput.ofTokens(ctx), ctx, 0, t, false, greedy,
              new int[0])));
          decodes.add(new SequenceStep(b, PromptInput.ofTokens(ctx), new int[] {7}, context, t, true, greedy,
              new int[0]));
        }
        step(m, block, decodes); // warm-up
        int n = 10;
        long d0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
          step(m, block, decodes); // rewrites the same slot: constant context length
        }
        double ms = (System.nanoTime() - d0) / 1e6 / n;
        out.append(String.format(Locale.ROOT, "decode batch %2d (context %d): %.2f ms/step = %.0f tokens/s%n", batch,
            context, ms, batch * 1000.0 / ms));
      }
    }
    return out.toString();
  }

  private static void step(LlavaStModel m, int block, List<SequenceStep> seqs) {
    m.step(new StepPlan(block, seqs));
  }

  private static int[] tokens(int n, int vocab) {
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = 10 + (i * 31) % (vocab - 10);
    }
    return t;
  }

  private static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = 0; i < r.length; i++) {
      r[i] = from + i;
    }
    return r;
  }
}

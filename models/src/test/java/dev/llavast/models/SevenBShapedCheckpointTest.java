package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release's shapes on CPU (-Pslow): a checkpoint at the official dimensions (LLM 3584 wide, 28
 * query and 4 KV heads, SwiGLU 18944, V = 151,646 + 14 markers, 3 x 100 bins; SigLIP so400m, 1152
 * wide, 4304 MLP, 16 heads, its 26 used layers) but only 2 LLM layers, stored in BF16 and sharded
 * in four files with a {@code model.safetensors.index.json} like the published one. It is opened,
 * loaded (fp32 on CPU) and asked a question about an image. Load time and peak RSS are printed;
 * peak RSS must stay under the weights' F32 size plus 4 GiB (the loader streams each tensor through
 * bounded windows, never a whole BF16 file plus its F32 copy). Skips when the disk or the memory
 * cannot hold it.
 */
@Tag("slow")
@Timeout(value = 30, unit = TimeUnit.MINUTES)
class SevenBShapedCheckpointTest {
  static final long GIB = 1L << 30;

  @TempDir Path dir;

  static ModelConfig config() {
    return new ModelConfig(
        3584,
        2,
        28,
        4,
        18944,
        1e-6,
        1_000_000.0,
        151_646 + 14,
        32768,
        false,
        1152,
        new ModelConfig.VisionConfig(1152, 4304, 26, 16, 384, 14, 1e-6),
        1024,
        8,
        100,
        100,
        "bfloat16");
  }

  @Test
  void loadsAndAnswersAnImageQuestionWithinF32PlusFourGiB() throws Exception {
    ModelConfig c = config();
    long elements = 0;
    for (TensorSpec s : CheckpointLayout.requiredTensors(c)) {
      elements += s.shape().size();
    }
    long f32 = 4 * elements;
    long bf16 = 2 * elements;
    assumeTrue(
        Files.getFileStore(dir).getUsableSpace() > bf16 + 2 * GIB,
        "needs " + (bf16 + 2 * GIB) / GIB + " GiB of disk");
    long available = memAvailable();
    assumeTrue(
        available < 0 || available > f32 + 2 * GIB, "needs " + (f32 + 2 * GIB) / GIB + " GiB RAM");

    long t0 = System.nanoTime();
    TinyCheckpoints.writeShaped(
        dir, c, 5L, new TinyCheckpoints.Options(StoredDtype.BF16, 4, false));
    long t1 = System.nanoTime();
    assertThat(dir.resolve(Checkpoint.INDEX_FILE)).exists();
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(
              files.filter(
                  p -> p.getFileName().toString().matches("model-0000[1-4]-of-00004.safetensors")))
          .hasSize(4);
    }
    try (LlavaSt model = LlavaSt.open(dir);
        LlavaStModel exec = model.newExecutor(Device.cpu(), false, 2)) {
      long t2 = System.nanoTime();
      exec.allocateKvCache(64, 16);
      float[] pixels = new float[3 * 384 * 384];
      SplittableRandom r = new SplittableRandom(3);
      for (int i = 0; i < pixels.length; i++) {
        pixels[i] = (float) (r.nextDouble() * 2 - 1);
      }
      MediaFeatures features = exec.encode(new PixelFrames("img", false, 1, 384, pixels));
      long t3 = System.nanoTime();
      assertThat(features.tokenCount()).isEqualTo(729);
      RenderedPrompt rendered =
          model
              .chatTemplate()
              .render(
                  ChatTemplate.Media.IMAGE,
                  "What object is in the region [<w0.3>,<h0.045>,<w0.724>,<h0.388>] of the image?");
      PromptInput prompt = rendered.toPromptInput(features);
      int[] answer = generate(exec, prompt, 4);
      long t4 = System.nanoTime();
      long peak = peakRss();
      assertThat(answer).isNotEmpty();
      for (int id : answer) {
        assertThat(id).isBetween(0, c.extendedVocabSize() - 1);
      }
      System.out.printf(
          "7B-shaped (2 LLM layers): %d params, BF16 %.2f GiB on disk (4 shards), F32 %.2f GiB;"
              + " write %.1f s, open+validate+load %.1f s, image encode %.1f s, prefill %d tokens +"
              + " %d decodes %.1f s; peak RSS %.2f GiB (limit %.2f GiB); answer %s%n",
          elements,
          bf16 / (double) GIB,
          f32 / (double) GIB,
          (t1 - t0) / 1e9,
          (t2 - t1) / 1e9,
          (t3 - t2) / 1e9,
          prompt.length(),
          answer.length - 1,
          (t4 - t3) / 1e9,
          peak / (double) GIB,
          (f32 + 4 * GIB) / (double) GIB,
          java.util.Arrays.toString(answer));
      if (peak > 0) {
        assertThat(peak).as("peak RSS").isLessThan(f32 + 4 * GIB);
      }
    }
  }

  /** Prefills in one step, then decodes greedily: {@code max} tokens. */
  static int[] generate(LlavaStModel exec, PromptInput prompt, int max) {
    int bs = 16;
    int[] blocks = new int[(prompt.length() + max + bs - 1) / bs];
    for (int i = 0; i < blocks.length; i++) {
      blocks[i] = i;
    }
    SamplingParams greedy = SamplingParams.greedy(max);
    List<Integer> out = new ArrayList<>();
    StepResult res =
        exec.step(
            new StepPlan(
                bs,
                List.of(
                    new SequenceStep(
                        1, prompt, prompt.tokenIds(), 0, blocks, true, greedy, new int[0]))));
    out.add(res.tokenIds()[0]);
    while (out.size() < max) {
      int[] gen = out.stream().mapToInt(Integer::intValue).toArray();
      res =
          exec.step(
              new StepPlan(
                  bs,
                  List.of(
                      new SequenceStep(
                          1,
                          prompt,
                          new int[] {gen[gen.length - 1]},
                          prompt.length() + gen.length - 1,
                          blocks,
                          true,
                          greedy,
                          gen))));
      out.add(res.tokenIds()[0]);
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** VmHWM of this process in bytes, or -1 off Linux. */
  static long peakRss() throws IOException {
    return procKb(Path.of("/proc/self/status"), "VmHWM:");
  }

  static long memAvailable() throws IOException {
    return procKb(Path.of("/proc/meminfo"), "MemAvailable:");
  }

  private static long procKb(Path file, String key) throws IOException {
    if (!Files.isReadable(file)) {
      return -1;
    }
    for (String line : Files.readAllLines(file)) {
      if (line.startsWith(key)) {
        return 1024 * Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
      }
    }
    return -1;
  }
}

package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole model path on a checkpoint our own writer made in the official layout: open and
 * validate, load onto the CPU, encode an image, render a prompt with the chat template, prefill in
 * chunks through the paged KV cache and decode greedily.
 */
@Timeout(120)
class LlavaStEndToEndTest {
  @TempDir Path dir;

  @Test
  void tinyCheckpointGeneratesDeterministicallyFromAnImagePrompt() throws Exception {
    TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, 7);
    try (LlavaSt model = LlavaSt.open(dir);
        LlavaStModel exec = model.newExecutor(Device.cpu(), false, 1)) {
      int baseline = exec.liveArrayCount();
      exec.allocateKvCache(128, 16);
      float[] pixels = new float[3 * 384 * 384];
      Random r = new Random(1);
      for (int i = 0; i < pixels.length; i++) {
        pixels[i] = r.nextFloat() * 2 - 1;
      }
      MediaFeatures features = exec.encode(new PixelFrames("img", false, 1, 384, pixels));
      assertThat(features.tokenCount()).isEqualTo(729);
      RenderedPrompt rendered =
          model
              .chatTemplate()
              .render(
                  ChatTemplate.Media.IMAGE,
                  "What object can be observed within the region [<w0.3>,<h0.045>,<w0.724>,<h0.388>] in the image?");
      PromptInput prompt = rendered.toPromptInput(features);
      assertThat(prompt.valueTokens()).hasSize(4);

      int[] first = generate(exec, model, prompt, 8, 128);
      int[] again =
          generate(exec, model, prompt, 8, 1000); // one-shot prefill gives the same tokens
      assertThat(again).containsExactly(first);
      assertThat(first).hasSizeBetween(1, 8);
      for (int id : first) {
        assertThat(id).isBetween(0, model.config().extendedVocabSize() - 1);
      }
      assertThat(model.tokenizer().decode(first)).isNotNull();
      assertThat(exec.liveArrayCount()).isEqualTo(baseline + kvArrays(exec, baseline));
    }
  }

  /**
   * Prefills {@code prompt} in chunks of {@code chunk} tokens, then decodes greedily up to {@code
   * max} tokens.
   */
  private static int[] generate(
      LlavaStModel exec, LlavaSt model, PromptInput prompt, int max, int chunk) {
    int blockSize = 16;
    int len = prompt.length();
    int[] blocks = new int[(len + max + blockSize - 1) / blockSize];
    for (int i = 0; i < blocks.length; i++) {
      blocks[i] = i;
    }
    SamplingParams greedy = SamplingParams.greedy(max, model.stopTokenIds());
    List<Integer> out = new ArrayList<>();
    int pos = 0;
    int next = -1;
    while (pos < len) {
      int n = Math.min(chunk, len - pos);
      int[] ids = java.util.Arrays.copyOfRange(prompt.tokenIds(), pos, pos + n);
      boolean last = pos + n == len;
      StepResult res =
          exec.step(
              new StepPlan(
                  blockSize,
                  List.of(
                      new SequenceStep(1, prompt, ids, pos, blocks, last, greedy, new int[0]))));
      pos += n;
      if (last) {
        next = res.tokenIds()[0];
      }
    }
    while (out.size() < max && !greedy.isStopToken(next)) {
      out.add(next);
      int[] gen = out.stream().mapToInt(Integer::intValue).toArray();
      StepResult res =
          exec.step(
              new StepPlan(
                  blockSize,
                  List.of(
                      new SequenceStep(
                          1, prompt, new int[] {next}, pos, blocks, true, greedy, gen))));
      pos++;
      next = res.tokenIds()[0];
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The arrays the KV pool added (allocated once, kept for the executor's life). */
  private static int kvArrays(LlavaStModel exec, int baseline) {
    return exec.liveArrayCount() - baseline;
  }
}

package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Executors loaded in parallel from one checkpoint (two CPU "devices" here; two GPUs in production)
 * hold the same weights as one loaded alone: their logits are identical.
 */
class ParallelLoadTest {
  @TempDir Path dir;

  @Test
  void parallelLoadsGiveTheSequentialLoadsLogits() throws Exception {
    TinyCheckpoints.write(
        dir,
        TinyCheckpoints.Preset.TINY,
        3,
        new TinyCheckpoints.Options(StoredDtype.BF16, 3, true));
    try (LlavaSt model = LlavaSt.open(dir);
        LlavaStModel alone = model.newExecutor(Device.cpu(), false, 1)) {
      List<LlavaStModel> both =
          model.newExecutors(List.of(Device.cpu(), Device.cpu()), false, 1, null);
      try {
        assertThat(both).hasSize(2).doesNotHaveDuplicates();
        float[] want = logits(alone);
        for (LlavaStModel m : both) {
          assertThat(logits(m)).containsExactly(want);
        }
      } finally {
        both.forEach(LlavaStModel::close);
      }
    }
  }

  static float[] logits(LlavaStModel m) {
    m.allocateKvCache(8, 16);
    int[] ids = {5, 6, 7, 8, 9, 10, 11};
    return m.stepLogits(
            new StepPlan(
                16,
                List.of(
                    new SequenceStep(
                        1,
                        PromptInput.ofTokens(ids),
                        ids,
                        0,
                        new int[] {0},
                        true,
                        SamplingParams.greedy(4),
                        new int[0]))))[0];
  }
}

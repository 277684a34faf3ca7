package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Native operators per decode step, counted by libtorch's profiler ({@link OpCounter}) around
 * {@link LlavaStModel#step}: every Java-to-libtorch call is a kernel launch on a GPU, so these
 * counts are what a launch-bound decode pays. Batches of 1 and 32 decoding sequences, each with its
 * own ~40-token context, on the tiny 2-layer model. The budgets are the counts measured when they
 * were last reduced: a change that adds ops per step fails here until the budget is raised on
 * purpose.
 */
class OpCountTest {
  static final int BLOCK = 16;
  static final int PROMPT = 37;

  static ModelConfig cfg;
  static LlavaStModel model;

  @BeforeAll
  static void load() {
    cfg = RandomWeights.tinyConfig();
    model =
        new LlavaStModel(
            cfg, new RandomWeights(cfg, 42L), Device.cpu(), LlavaStModelTest.TEST_OPTIONS);
    model.allocateKvCache(32 * 4, BLOCK);
  }

  @AfterAll
  static void close() {
    model.close();
  }

  /** Prefills {@code n} sequences, then counts the ops of one decode step of all of them. */
  static OpCounter.Counts decodeStep(int n, SamplingParams sampling) {
    SplittableRandom rng = new SplittableRandom(n);
    List<SequenceStep> prefill = new ArrayList<>();
    List<SequenceStep> decode = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int[] prompt = rng.ints(PROMPT, 0, 48).toArray();
      int[] table = {4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3};
      PromptInput p = PromptInput.ofTokens(prompt);
      prefill.add(new SequenceStep(i, p, prompt, 0, table, true, sampling, new int[0]));
    }
    StepResult first = model.step(new StepPlan(BLOCK, prefill));
    for (int i = 0; i < n; i++) {
      SequenceStep s = prefill.get(i);
      int tok = first.tokenIds()[i];
      decode.add(
          new SequenceStep(
              i,
              s.prompt(),
              new int[] {tok},
              PROMPT,
              s.blockTable(),
              true,
              sampling,
              new int[] {tok}));
    }
    StepPlan plan = new StepPlan(BLOCK, decode);
    model.step(plan); // warm
    return OpCounter.count(() -> model.step(plan));
  }

  @Test
  void decodeOpsPerStep() {
    SamplingParams greedy = SamplingParams.greedy(16);
    SamplingParams topP = new SamplingParams(0.8f, 0.9f, 20, 1f, 7L, 16, new int[0], false);
    for (int n : new int[] {1, 32}) {
      OpCounter.Counts g = decodeStep(n, greedy);
      OpCounter.Counts s = decodeStep(n, topP);
      System.out.printf(
          "decode batch %d: greedy %d top-level (%d leaf), top-k/top-p %d top-level (%d leaf)%n  %s%n",
          n, g.topLevel(), g.leaf(), s.topLevel(), s.leaf(), g.byName());
    }
  }
}

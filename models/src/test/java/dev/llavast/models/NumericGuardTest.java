package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.llavast.scheduler.FinishReason;
import dev.llavast.scheduler.GenerationRequest;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.scheduler.SchedulerError;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import dev.llavast.scheduler.TokenSink;
import dev.llavast.scheduler.Usage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A checkpoint whose embedding row for one token is NaN: any sequence that reads that token gets
 * NaN logits. Such a sequence must fail alone (INTERNAL, counted), never emit the argmax of a NaN
 * row, and leave no NaN K/V behind for the next owner of its blocks; the other sequences of its
 * batch finish with exactly the tokens they get alone.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NumericGuardTest {
  static final int POISON = 30;
  static final int BLOCK = 4;

  static ModelConfig cfg;
  static LlavaStModel model;

  @BeforeAll
  static void load() {
    cfg = RandomWeights.tinyConfig();
    RandomWeights w = new RandomWeights(cfg, 42L);
    float[] embed = w.get("model.embed_tokens.weight").clone();
    Arrays.fill(embed, POISON * cfg.hiddenSize(), (POISON + 1) * cfg.hiddenSize(), Float.NaN);
    w.set("model.embed_tokens.weight", embed);
    model = new LlavaStModel(cfg, w, Device.cpu(), LlavaStModelTest.TEST_OPTIONS);
    model.allocateKvCache(64, BLOCK);
  }

  @AfterAll
  static void close() {
    model.close();
  }

  static SequenceStep prefill(long id, int[] prompt, int[] table) {
    return new SequenceStep(
        id,
        PromptInput.ofTokens(prompt),
        prompt,
        0,
        table,
        true,
        SamplingParams.greedy(8),
        new int[0]);
  }

  static final int[] CLEAN_A = {5, 6, 7, 8, 9, 10, 11};
  static final int[] CLEAN_B = {20, 21, 22};
  static final int[] POISONED = {1, 2, 3, POISON, 5, 6, 7, 8, 9, 10, 11};

  @Test
  void aNonFiniteRowFailsOnlyItsSequenceAndItsKvIsCleared() {
    int baseline = model.liveArrayCount();
    int[] soloA =
        model
            .step(new StepPlan(BLOCK, List.of(prefill(1, CLEAN_A, new int[] {40, 41}))))
            .tokenIds();
    int[] soloB =
        model.step(new StepPlan(BLOCK, List.of(prefill(2, CLEAN_B, new int[] {42})))).tokenIds();
    long before = model.nonFiniteLogits();

    StepResult r =
        model.step(
            new StepPlan(
                BLOCK,
                List.of(
                    prefill(3, CLEAN_A, new int[] {10, 11}),
                    prefill(4, POISONED, new int[] {0, 1, 2}),
                    prefill(5, CLEAN_B, new int[] {12}))));
    assertThat(r.failed(0)).isFalse();
    assertThat(r.failed(2)).isFalse();
    assertThat(r.failed(1)).isTrue();
    assertThat(r.failures()[1]).contains("not finite").contains("position 10");
    assertThat(r.tokenIds()[0]).isEqualTo(soloA[0]);
    assertThat(r.tokenIds()[2]).isEqualTo(soloB[0]);
    assertThat(r.tokenIds()[1]).isEqualTo(-1);
    assertThat(model.nonFiniteLogits() - before).isEqualTo(1);

    // Block 2 held the poisoned positions 8..10; a 3-token sequence now owns it, and its slot 3
    // (masked, never written by it) still holds whatever the poisoned run left there.
    StepResult reuse = model.step(new StepPlan(BLOCK, List.of(prefill(6, CLEAN_B, new int[] {2}))));
    assertThat(reuse.failures()).as("a clean sequence on the poisoned blocks").isNull();
    assertThat(reuse.tokenIds()).containsExactly(soloB[0]);
    assertThat(model.liveArrayCount()).isEqualTo(baseline);
  }

  @Test
  void theSchedulerFailsThePoisonedRequestAloneAsInternal() throws Exception {
    RandomWeights w = new RandomWeights(cfg, 42L);
    float[] embed = w.get("model.embed_tokens.weight").clone();
    Arrays.fill(embed, POISON * cfg.hiddenSize(), (POISON + 1) * cfg.hiddenSize(), Float.NaN);
    w.set("model.embed_tokens.weight", embed);
    LlavaStModel ex = new LlavaStModel(cfg, w, Device.cpu(), LlavaStModelTest.TEST_OPTIONS);
    Scheduler s =
        Scheduler.builder()
            .blockSize(BLOCK)
            .kvBlocks(64)
            .maxRunningSequences(4)
            .idlePoll(Duration.ofMillis(2))
            .addExecutor(ex)
            .build();
    try {
      SamplingParams greedy = SamplingParams.greedy(6);
      List<Sink> sinks = new ArrayList<>();
      Sink a = new Sink();
      Sink p = new Sink();
      Sink b = new Sink();
      sinks.add(a);
      sinks.add(p);
      sinks.add(b);
      s.submit(GenerationRequest.of("a", PromptInput.ofTokens(CLEAN_A), greedy), a);
      s.submit(GenerationRequest.of("p", PromptInput.ofTokens(POISONED), greedy), p);
      s.submit(GenerationRequest.of("b", PromptInput.ofTokens(CLEAN_B), greedy), b);
      for (Sink k : sinks) {
        assertThat(k.done.await(30, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(p.error).isNotNull();
      assertThat(p.error.reason()).isEqualTo(SchedulerError.INTERNAL);
      assertThat(p.error.getMessage()).contains("not finite");
      assertThat(p.tokens).isEmpty();
      assertThat(a.error).isNull();
      assertThat(b.error).isNull();
      List<Integer> soloA = solo(CLEAN_A, 6);
      assertThat(soloA).as("precondition: A never reads the poisoned id").doesNotContain(POISON);
      assertThat(a.tokens).containsExactlyElementsOf(soloA);
      assertThat(b.tokens).containsExactlyElementsOf(solo(CLEAN_B, 6));
      assertThat(ex.nonFiniteLogits()).isEqualTo(1);
      assertThat(s.stats().workers().get(0).stepFailuresTotal()).isZero();
      assertThat(s.stats().workers().get(0).usedBlocks()).isZero();
      assertThat(s.isWorkerHealthy(0)).isTrue();
    } finally {
      assertThat(s.shutdown(Duration.ofSeconds(10))).isTrue();
    }
  }

  /** Greedy tokens of {@code prompt} alone on the shared model (blocks 50..). */
  static List<Integer> solo(int[] prompt, int n) {
    int[] table = {50, 51, 52, 53, 54};
    List<Integer> out = new ArrayList<>();
    int[] gen = new int[0];
    StepResult r = model.step(new StepPlan(BLOCK, List.of(prefill(9, prompt, table))));
    out.add(r.tokenIds()[0]);
    while (out.size() < n) {
      gen = out.stream().mapToInt(Integer::intValue).toArray();
      SequenceStep d =
          new SequenceStep(
              9,
              PromptInput.ofTokens(prompt),
              new int[] {out.get(out.size() - 1)},
              prompt.length + out.size() - 1,
              table,
              true,
              SamplingParams.greedy(8),
              gen);
      out.add(model.step(new StepPlan(BLOCK, List.of(d))).tokenIds()[0]);
    }
    return out;
  }

  static final class Sink implements TokenSink {
    final List<Integer> tokens = new ArrayList<>();
    final CountDownLatch done = new CountDownLatch(1);
    volatile SchedulerException error;

    @Override
    public synchronized boolean onToken(int tokenId, float logprob) {
      tokens.add(tokenId);
      return true;
    }

    @Override
    public synchronized void onStopToken(int tokenId, float logprob) {
      tokens.add(tokenId);
    }

    @Override
    public void onFinish(FinishReason reason, Usage usage) {
      done.countDown();
    }

    @Override
    public void onError(SchedulerException e, Usage usage) {
      error = e;
      done.countDown();
    }
  }
}

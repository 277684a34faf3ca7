package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.llavast.scheduler.EncodeTask;
import dev.llavast.scheduler.ExecutorException;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LlavaStModelTest {
  static final int V = 64;
  static final int BINS = 100;
  static final int VID_START = 49;
  static final int VID_END = 50;
  static final int VID_PATCH = 51;
  static final int SLOW_START = 52;
  static final int SLOW_END = 53;
  static final LlavaStModel.ValueTokenIds IDS =
      new LlavaStModel.ValueTokenIds(54, 55, 56, 57, 58, 59);

  /** One torch thread: the build host is a shared 2-core machine. */
  static final LlavaStModel.Options TEST_OPTIONS =
      new LlavaStModel.Options(IDS, false, 10, null, 1);

  static final int BLOCK = 4;

  static ModelConfig cfg;
  static RandomWeights weights;
  static RefQwen2 ref;
  static LlavaStModel model;

  @BeforeAll
  static void load() {
    cfg = RandomWeights.tinyConfig();
    weights = new RandomWeights(cfg, 42L);
    ref = new RefQwen2(cfg, weights);
    model = new LlavaStModel(cfg, weights, Device.cpu(), TEST_OPTIONS);
    model.allocateKvCache(64, BLOCK);
  }

  @AfterAll
  static void close() {
    model.close();
  }

  static SequenceStep step(
      long id,
      PromptInput prompt,
      int[] ids,
      int start,
      int[] table,
      boolean sample,
      int[] generated) {
    return new SequenceStep(
        id, prompt, ids, start, table, sample, SamplingParams.greedy(16), generated);
  }

  /**
   * The step that decodes the last token of {@code history} (its earlier ones are in the cache).
   */
  static SequenceStep decode(long id, int[] history, int[] table) {
    int[] last = {history[history.length - 1]};
    return step(
        id, PromptInput.ofTokens(history), last, history.length - 1, table, true, last.clone());
  }

  static float[][] refEmbeddings(int[] ids) {
    float[][] e = new float[ids.length][];
    for (int i = 0; i < ids.length; i++) {
      e[i] = ref.embedRow(ids[i]);
    }
    return e;
  }

  static void assertClose(float[] actual, float[] expected, double tol) {
    assertThat(actual).hasSameSizeAs(expected);
    double worst = 0;
    for (int i = 0; i < actual.length; i++) {
      worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    }
    assertThat(worst).as("max abs diff").isLessThanOrEqualTo(tol);
  }

  @Test
  void pagedPrefillAndDecodeMatchContiguousReference() {
    // includes bin ids >= V, which embed from the LAPE input tables
    int[] prompt = {1, 7, 3, V + 5, 12, V + 100 + 33, 40, V + 200 + 99, 8, 9, 10, 11, 2};
    int[] table = {7, 2, 11, 5, 30, 9};
    PromptInput p = PromptInput.ofTokens(prompt);
    float[][] got =
        model.stepLogits(
            new StepPlan(BLOCK, List.of(step(1, p, prompt, 0, table, true, new int[0]))));
    float[][] want = ref.forward(refEmbeddings(prompt));
    assertThat(got[0]).hasSize(V + 3 * BINS);
    assertClose(got[0], want[prompt.length - 1], 1e-4);

    int[] seq = Arrays.copyOf(prompt, prompt.length + 3);
    List<Integer> generated = new ArrayList<>();
    float[] last = got[0];
    for (int t = 0; t < 3; t++) {
      int next = argmax(last);
      seq[prompt.length + t] = next;
      generated.add(next);
      int pos = prompt.length + t;
      last =
          model
              .stepLogits(
                  new StepPlan(
                      BLOCK,
                      List.of(
                          step(
                              1,
                              p,
                              new int[] {next},
                              pos,
                              table,
                              true,
                              generated.stream().mapToInt(Integer::intValue).toArray()))))[0];
      float[][] full = ref.forward(refEmbeddings(Arrays.copyOf(seq, pos + 1)));
      assertClose(last, full[pos], 1e-4);
    }
  }

  @Test
  void chunkedPrefillEqualsOneShot() {
    int[] prompt = {3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3, 23};
    PromptInput p = PromptInput.ofTokens(prompt);
    float[] oneShot =
        model
            .stepLogits(
                new StepPlan(
                    BLOCK,
                    List.of(step(2, p, prompt, 0, new int[] {0, 1, 2, 3}, true, new int[0]))))[0];
    int[] table = {20, 21, 22, 23};
    model.stepLogits(
        new StepPlan(
            BLOCK,
            List.of(step(3, p, Arrays.copyOfRange(prompt, 0, 5), 0, table, false, new int[0]))));
    model.stepLogits(
        new StepPlan(
            BLOCK,
            List.of(step(3, p, Arrays.copyOfRange(prompt, 5, 10), 5, table, false, new int[0]))));
    float[] chunked =
        model
            .stepLogits(
                new StepPlan(
                    BLOCK,
                    List.of(
                        step(
                            3,
                            p,
                            Arrays.copyOfRange(prompt, 10, 13),
                            10,
                            table,
                            true,
                            new int[0]))))[0];
    assertClose(chunked, oneShot, 1e-5);
  }

  /**
   * Prefill chunks and decodes that share prefix blocks attend through the split (cascade) path;
   * every logit row must still equal the contiguous reference on that sequence's full token
   * history. Two families share a 16-token prefix (4 blocks of 4): one on consecutive pool blocks
   * (read as a slice), one on scattered blocks (gathered); tails of different lengths prefill
   * together; a sixth sequence shares nothing and its prefill chunk runs in the decode steps.
   * (StepLayoutTest checks that these tables form two shared groups.)
   */
  @Test
  void sharedPrefixDecodesMatchContiguousReference() {
    int baseline = model.liveArrayCount();
    int[] pre = {
      3, 9, 27, 17, 11, 19, 5, 15, 45, 7, 21, 63, 61, 35, 1, 13
    }; // no marker ids (49..59)
    int[][] tails = {
      {2, 4, 6}, {8, 10}, {12, 14, 16, 18, 20}, {22, 24, 26, 28}, {30, 32, 34, 36, 38, 40, 42}
    };
    int[][] tables = {
      {10, 11, 12, 13, 30, 31, 32},
      {10, 11, 12, 13, 33, 34, 35},
      {10, 11, 12, 13, 36, 37, 38},
      {22, 5, 17, 2, 39, 40, 41},
      {22, 5, 17, 2, 42, 43, 44}
    };
    int[][] history = new int[tails.length][];
    float[][] last = new float[tails.length][];
    // the first member of each family prefills the whole prompt; then the others prefill only their
    // tails, all in one step (members 1 and 2 share the prefix there: a shared prefill group)
    List<SequenceStep> tailsStep = new ArrayList<>();
    for (int i = 0; i < tails.length; i++) {
      history[i] = concat(pre, tails[i]);
      if (i == 0 || i == 3) {
        last[i] =
            model
                .stepLogits(
                    new StepPlan(
                        BLOCK,
                        List.of(
                            step(
                                60 + i,
                                PromptInput.ofTokens(history[i]),
                                history[i],
                                0,
                                tables[i],
                                true,
                                new int[0]))))[0];
      } else {
        tailsStep.add(
            step(
                60 + i,
                PromptInput.ofTokens(history[i]),
                tails[i],
                pre.length,
                tables[i],
                true,
                new int[0]));
      }
    }
    float[][] tailLogits = model.stepLogits(new StepPlan(BLOCK, tailsStep));
    last[1] = tailLogits[0];
    last[2] = tailLogits[1];
    last[4] = tailLogits[2];
    for (int i = 0; i < tails.length; i++) {
      assertClose(last[i], ref.forward(refEmbeddings(history[i]))[history[i].length - 1], 1e-4);
    }
    int[] loner = {33, 35, 37, 39, 41, 43, 45, 47, 9};
    int[] lonerTable = {50, 51, 52, 53, 54};
    for (int t = 0; t < 3; t++) {
      List<SequenceStep> batch = new ArrayList<>();
      for (int i = 0; i < tails.length; i++) {
        history[i] = concat(history[i], new int[] {argmax(last[i])});
        batch.add(decode(60 + i, history[i], tables[i]));
      }
      // a prefill chunk of an unrelated sequence between the decodes
      batch.add(
          2,
          step(
              70,
              PromptInput.ofTokens(loner),
              Arrays.copyOfRange(loner, 3 * t, 3 * t + 3),
              3 * t,
              lonerTable,
              false,
              new int[0]));
      float[][] got = model.stepLogits(new StepPlan(BLOCK, batch));
      assertThat(got).hasNumberOfRows(tails.length);
      for (int i = 0; i < tails.length; i++) {
        float[][] want = ref.forward(refEmbeddings(history[i]));
        assertClose(got[i], want[history[i].length - 1], 1e-4);
        last[i] = got[i];
      }
    }
    // each decoding alone: member 0's context starts with 4 consecutive blocks (16 keys) and goes
    // on in blocks 30..32 (the run read in place, the rest gathered: a shared group of one); member
    // 3's prefix is scattered (gathered whole: a padded group of one)
    for (int i : new int[] {0, 3}) {
      history[i] = concat(history[i], new int[] {argmax(last[i])});
      float[] got =
          model.stepLogits(new StepPlan(BLOCK, List.of(decode(60 + i, history[i], tables[i]))))[0];
      assertClose(got, ref.forward(refEmbeddings(history[i]))[history[i].length - 1], 1e-4);
    }
    assertThat(model.liveArrayCount()).isEqualTo(baseline);
  }

  /**
   * Attention is tiled along the queries so that no score tile exceeds 1 Mi elements (CPU); tiles
   * must not change a number. (Tiny config: 2 KV heads x 2 group heads, so a tile holds 2^20 / (4 x
   * keys) queries: 372 for the 700-token one-shot prefill, 431 for the 3 x 200 rows against the
   * 608-key prefix.)
   */
  @Test
  void longPrefillsAndWideSharedGroupsAreTiledWithoutChangingANumber() {
    try (LlavaStModel big = new LlavaStModel(cfg, weights, Device.cpu(), TEST_OPTIONS)) {
      big.allocateKvCache(200, 16);
      int baseline = big.liveArrayCount();
      SplittableRandom rng = new SplittableRandom(7);
      int[] prompt = rng.ints(808, 0, 49).toArray(); // no marker ids (49..59)
      int[] table = IntStream.range(0, 51).toArray();
      float[] oneShot =
          big.stepLogits(
                  new StepPlan(
                      16,
                      List.of(
                          step(
                              80,
                              PromptInput.ofTokens(prompt),
                              Arrays.copyOf(prompt, 700),
                              0,
                              table,
                              true,
                              new int[0]))))[0];
      assertClose(oneShot, ref.forward(refEmbeddings(Arrays.copyOf(prompt, 700)))[699], 1e-4);

      // 3 questions of 200 tokens on a 608-token (38-block) prefix, prefilled together
      int[][] tails = new int[3][];
      List<SequenceStep> batch = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        tails[i] = concat(Arrays.copyOf(prompt, 608), rng.ints(200, 0, 49).toArray());
        int[] t =
            IntStream.concat(IntStream.range(0, 38), IntStream.range(60 + 13 * i, 73 + 13 * i))
                .toArray();
        batch.add(
            step(
                81 + i,
                PromptInput.ofTokens(tails[i]),
                Arrays.copyOfRange(tails[i], 608, 808),
                608,
                t,
                true,
                new int[0]));
      }
      float[][] got = big.stepLogits(new StepPlan(16, batch));
      for (int i = 0; i < 3; i++) {
        assertClose(got[i], ref.forward(refEmbeddings(tails[i]))[807], 1e-4);
      }
      assertThat(big.liveArrayCount())
          .as("tiles and their temporaries all closed")
          .isEqualTo(baseline);
    }
  }

  static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  /**
   * One sequence of the consistency test: its prompt, block table, and when it enters the batch.
   */
  static final class Seq {
    final long id;
    final int[] prompt;
    final int[] table;
    final int enterStep;
    final int chunk;
    int pos;
    final List<Integer> generated = new ArrayList<>();
    SamplingParams sampling = SamplingParams.greedy(16);

    Seq(long id, int[] prompt, int[] table, int enterStep, int chunk) {
      this.id = id;
      this.prompt = prompt;
      this.table = table;
      this.enterStep = enterStep;
      this.chunk = chunk;
    }

    SequenceStep next() {
      int[] gen = generated.stream().mapToInt(Integer::intValue).toArray();
      PromptInput p = PromptInput.ofTokens(prompt);
      if (pos < prompt.length) {
        int n = Math.min(chunk, prompt.length - pos);
        return new SequenceStep(
            id,
            p,
            Arrays.copyOfRange(prompt, pos, pos + n),
            pos,
            table,
            pos + n == prompt.length,
            sampling,
            gen);
      }
      return new SequenceStep(
          id, p, new int[] {generated.get(generated.size() - 1)}, pos, table, true, sampling, gen);
    }

    void advance(SequenceStep s, Integer sampled) {
      pos += s.tokenIds().length;
      if (sampled != null) {
        generated.add(sampled);
      }
    }
  }

  static List<List<Integer>> run(List<Seq> seqs, int decodeTokens) {
    for (int stepNo = 0; ; stepNo++) {
      List<SequenceStep> batch = new ArrayList<>();
      List<Seq> who = new ArrayList<>();
      for (Seq s : seqs) {
        if (stepNo >= s.enterStep && s.generated.size() < decodeTokens) {
          batch.add(s.next());
          who.add(s);
        }
      }
      if (batch.isEmpty()) {
        break;
      }
      StepResult r = model.step(new StepPlan(BLOCK, batch));
      int k = 0;
      for (int i = 0; i < batch.size(); i++) {
        who.get(i).advance(batch.get(i), batch.get(i).sample() ? r.tokenIds()[k++] : null);
      }
      assertThat(k).isEqualTo(r.tokenIds().length);
    }
    List<List<Integer>> out = new ArrayList<>();
    for (Seq s : seqs) {
      out.add(List.copyOf(s.generated));
    }
    return out;
  }

  @Test
  void greedyTokensAreTheSameAloneAndInAMixedBatch() {
    int[] a = {5, 6, 7, 8, 9, 10, 11, 12, 13};
    int[] b = {40, 41, 42, V + 17, 44, 45};
    int[] c = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    List<List<Integer>> solo = new ArrayList<>();
    solo.add(run(List.of(new Seq(10, a, new int[] {0, 1, 2, 3, 4}, 0, 100)), 6).get(0));
    solo.add(run(List.of(new Seq(11, b, new int[] {0, 1, 2, 3, 4}, 0, 100)), 6).get(0));
    solo.add(run(List.of(new Seq(12, c, new int[] {0, 1, 2, 3, 4}, 0, 100)), 6).get(0));
    assertThat(solo.get(0)).hasSize(6);
    // mixed: a prefilled in one chunk, b in chunks of 4, c enters at step 2 in chunks of 5 (decodes
    // and
    // prefill chunks share steps; block tables scrambled and disjoint)
    // (c sits between a and b, so from step 2 on a prefill chunk separates two decodes: the rows
    // are
    // regrouped for attention and put back in order)
    List<List<Integer>> mixed =
        run(
            List.of(
                new Seq(20, a, new int[] {9, 3, 17, 5, 40}, 0, 100),
                new Seq(22, c, new int[] {12, 50, 44, 6, 28}, 2, 5),
                new Seq(21, b, new int[] {33, 8, 1, 60, 2}, 0, 4)),
            6);
    assertThat(mixed).isEqualTo(List.of(solo.get(0), solo.get(2), solo.get(1)));
    assertThat(solo.get(0)).as("greedy output is not degenerate").doesNotHaveDuplicates();
  }

  @Test
  void seededSamplingIsTheSameAloneAndInABatch() {
    SamplingParams temp = new SamplingParams(1.5f, 0.95f, 40, 1.05f, 2024L, 16, new int[0], true);
    int[] a = {5, 6, 7, 8, 9, 10, 11, 12, 13};
    int[] b = {40, 41, 42, V + 17, 44, 45};
    Seq soloA = new Seq(40, a, new int[] {0, 1, 2, 3, 4}, 0, 100);
    soloA.sampling = temp;
    Seq soloB = new Seq(41, b, new int[] {0, 1, 2, 3, 4}, 0, 100);
    soloB.sampling = new SamplingParams(1.5f, 1f, 0, 1f, 7L, 16, new int[0], false);
    List<Integer> alone = run(List.of(soloA), 6).get(0);
    List<Integer> aloneB = run(List.of(soloB), 6).get(0);
    Seq mixA = new Seq(42, a, new int[] {9, 3, 17, 5, 40}, 1, 4);
    mixA.sampling = temp;
    Seq mixB = new Seq(43, b, new int[] {33, 8, 1, 60, 2}, 0, 100);
    mixB.sampling = soloB.sampling;
    assertThat(run(List.of(mixB, mixA), 6)).isEqualTo(List.of(aloneB, alone));
  }

  @Test
  void binIdsEmbedFromLapeInputTables() {
    int[] ids = {V + 3, V + BINS + 7, V + 2 * BINS + 99, 12};
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      float[] got = embedHost(PromptInput.ofTokens(ids), ids, m);
      int c = cfg.hiddenSize();
      assertClose(
          Arrays.copyOfRange(got, 0, c),
          RefQwen2.slice(weights.get("model.temporal_input_embeddings.weight"), 3, c),
          0);
      assertClose(
          Arrays.copyOfRange(got, c, 2 * c),
          RefQwen2.slice(weights.get("model.spatial_height_input_embeddings.weight"), 7, c),
          0);
      assertClose(
          Arrays.copyOfRange(got, 2 * c, 3 * c),
          RefQwen2.slice(weights.get("model.spatial_width_input_embeddings.weight"), 99, c),
          0);
      assertClose(
          Arrays.copyOfRange(got, 3 * c, 4 * c),
          RefQwen2.slice(weights.get("model.embed_tokens.weight"), 12, c),
          0);
    }
  }

  static float[] embedHost(PromptInput p, int[] ids, NDManager unused) {
    return embedHost(model, p, ids);
  }

  static float[] embedHost(LlavaStModel mdl, PromptInput p, int[] ids) {
    try (NDManager step = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      NDArray e = mdl.embed(List.of(step(99, p, ids, 0, new int[] {0}, false, new int[0])), step);
      return e.toFloatArray();
    }
  }

  @Test
  void spliceLayoutKeepsFastBlockPlainAndOverwritesSlowBlockWithMarkers() {
    int c = cfg.hiddenSize();
    List<Integer> ids = new ArrayList<>(List.of(1, 2, 3));
    int fastStart = ids.size();
    ids.add(VID_START);
    for (int i = 0; i < 898; i++) {
      ids.add(VID_PATCH);
    }
    ids.add(VID_END);
    int slowStart = ids.size();
    ids.add(SLOW_START);
    for (int i = 0; i < 1618; i++) {
      ids.add(VID_PATCH);
    }
    ids.add(SLOW_END);
    ids.add(4);
    int[] tokens = ids.stream().mapToInt(Integer::intValue).toArray();
    float[] feat = new float[1620 * c];
    SplittableRandom rng = new SplittableRandom(7);
    for (int i = 0; i < feat.length; i++) {
      feat[i] = (float) rng.nextDouble();
    }
    LlavaStModel.Features f = new LlavaStModel.Features("vid", true, 1620, c, feat);
    PromptInput p =
        new PromptInput(
            tokens, List.of(new PromptInput.VisualSpan(slowStart, 1620, f, 0)), List.of());
    float[] got = embedHost(p, tokens, null);
    float[] table = weights.get("model.embed_tokens.weight");
    for (int pos = 0; pos < tokens.length; pos++) {
      float[] row = Arrays.copyOfRange(got, pos * c, (pos + 1) * c);
      boolean slow = pos >= slowStart && pos < slowStart + 1620;
      float[] want =
          slow
              ? Arrays.copyOfRange(feat, (pos - slowStart) * c, (pos - slowStart + 1) * c)
              : RefQwen2.slice(table, tokens[pos], c);
      assertThat(row).as("position %d", pos).containsExactly(want);
    }
    assertThat(tokens[fastStart]).isEqualTo(VID_START);
    assertThat(tokens[slowStart + 1619]).isEqualTo(SLOW_END);
  }

  @Test
  void valueTokensLerpInputTablesAndWidthInputIsIgnoredUnlessFixed() {
    int c = cfg.hiddenSize();
    int[] tokens = {
      1, 2, IDS.tempInput(), IDS.heightInput(), IDS.widthInput(), IDS.widthOutput(), 3
    };
    List<PromptInput.ValueToken> values =
        List.of(
            new PromptInput.ValueToken(2, 0.409f),
            new PromptInput.ValueToken(3, 1.0f),
            new PromptInput.ValueToken(4, 0.5f),
            new PromptInput.ValueToken(5, 0.25f));
    PromptInput p = new PromptInput(tokens, List.of(), values);
    float[] tIn = weights.get("model.temporal_input_embeddings.weight");
    float[] hIn = weights.get("model.spatial_height_input_embeddings.weight");
    float[] wIn = weights.get("model.spatial_width_input_embeddings.weight");
    float[] emb = weights.get("model.embed_tokens.weight");
    float[] got = embedHost(p, tokens, null);
    // 0.409 * 99 = 40.491: 0.509 * T[40] + 0.491 * T[41]
    float[] temp = new float[c];
    float[] width = new float[c];
    for (int e = 0; e < c; e++) {
      temp[e] = 0.509f * tIn[40 * c + e] + 0.491f * tIn[41 * c + e];
      width[e] = 0.25f * wIn[24 * c + e] + 0.75f * wIn[25 * c + e]; // 0.25 * 99 = 24.75
    }
    assertClose(Arrays.copyOfRange(got, 2 * c, 3 * c), temp, 2e-6);
    assertClose(Arrays.copyOfRange(got, 3 * c, 4 * c), RefQwen2.slice(hIn, 99, c), 0);
    assertClose(Arrays.copyOfRange(got, 4 * c, 5 * c), RefQwen2.slice(emb, IDS.widthInput(), c), 0);
    assertClose(Arrays.copyOfRange(got, 5 * c, 6 * c), width, 2e-6);

    try (LlavaStModel fixed =
        new LlavaStModel(
            cfg, weights, Device.cpu(), new LlavaStModel.Options(IDS, true, 10, null, 1))) {
      float[] g2 = embedHost(fixed, p, tokens);
      float[] w50 = new float[c];
      for (int e = 0; e < c; e++) {
        w50[e] = 0.5f * wIn[49 * c + e] + 0.5f * wIn[50 * c + e]; // 0.5 * 99 = 49.5
      }
      assertClose(Arrays.copyOfRange(g2, 4 * c, 5 * c), w50, 2e-6);
      assertClose(Arrays.copyOfRange(g2, 2 * c, 3 * c), temp, 2e-6);
    }
  }

  @Test
  void valueTokenOnANonSlotIdIsRejected() {
    int[] tokens = {1, 2, 3};
    PromptInput p =
        new PromptInput(tokens, List.of(), List.of(new PromptInput.ValueToken(1, 0.5f)));
    assertThatThrownBy(
            () ->
                model.step(
                    new StepPlan(
                        BLOCK, List.of(step(5, p, tokens, 0, new int[] {0}, true, new int[0])))))
        .isInstanceOf(ExecutorException.class)
        .hasMessageContaining("token id 2");
    int[] bad = {1, V + 300};
    assertThatThrownBy(
            () ->
                model.step(
                    new StepPlan(
                        BLOCK,
                        List.of(
                            step(
                                6,
                                PromptInput.ofTokens(bad),
                                bad,
                                0,
                                new int[] {0},
                                true,
                                new int[0])))))
        .isInstanceOf(ExecutorException.class)
        .hasMessageContaining("token id " + (V + 300));
  }

  @Test
  void repeatedStepsAndEncodesLeaveNoLiveArrays() {
    int baseline = model.liveArrayCount();
    run(
        List.of(
            new Seq(30, new int[] {1, 2, 3, 4, 5}, new int[] {40, 41, 42}, 0, 2),
            new Seq(31, new int[] {6, 7}, new int[] {43, 44, 45}, 1, 8)),
        4);
    float[] px = new float[3 * 378 * 378];
    model.encode(new PixelFrames("img", false, 1, 378, px));
    assertThatThrownBy(
            () ->
                model.step(
                    new StepPlan(
                        BLOCK,
                        List.of(
                            step(
                                7,
                                PromptInput.ofTokens(1),
                                new int[] {1},
                                0,
                                new int[] {999},
                                true,
                                new int[0])))))
        .isInstanceOf(ExecutorException.class)
        .hasMessageContaining("999");
    assertThat(model.liveArrayCount()).isEqualTo(baseline);
  }

  @Test
  void slicedEncodeInterleavedWithStepsEqualsOneShotAndAnAbandonedOneLeavesNoArrays() {
    int baseline = model.liveArrayCount();
    float[] px = new float[3 * 378 * 378];
    SplittableRandom r = new SplittableRandom(9);
    for (int i = 0; i < px.length; i++) {
      px[i] = (float) (r.nextDouble() * 2 - 1);
    }
    PixelFrames image = new PixelFrames("img-sliced", false, 1, 378, px);
    LlavaStModel.Features whole = (LlavaStModel.Features) model.encode(image);
    LlavaStModel.Features sliced;
    int slices = 0;
    try (EncodeTask task = model.startEncode(image)) {
      MediaFeatures f;
      while ((f = task.advance()) == null) {
        slices++;
        // a decode step between slices, as a worker runs them
        run(List.of(new Seq(50 + slices, new int[] {1, 2, 3}, new int[] {40}, 0, 2)), 1);
      }
      sliced = (LlavaStModel.Features) f;
    }
    // embedding, 2 layers, projector, LAPE: 5 slices return null, the 6th the features
    assertThat(slices).isEqualTo(5);
    assertThat(sliced.data()).containsExactly(whole.data());
    assertThat(sliced.tokenCount()).isEqualTo(whole.tokenCount());

    PixelFrames video =
        new PixelFrames("vid-abandoned", true, 100, 378, new float[100 * px.length]);
    try (EncodeTask task = model.startEncode(video)) {
      for (int i = 0; i < 7; i++) {
        assertThat(task.advance()).isNull();
      }
    }
    assertThat(model.liveArrayCount()).isEqualTo(baseline);
  }

  @Test
  void missingOrMisShapedWeightsAreNamedAtLoad() {
    TensorSource hidden =
        new TensorSource() {
          @Override
          public java.util.Set<String> names() {
            return weights.names();
          }

          @Override
          public java.util.Optional<ai.djl.ndarray.types.Shape> shape(String name) {
            if (name.equals("model.mm_projector.2.bias")) {
              return java.util.Optional.of(new ai.djl.ndarray.types.Shape(7));
            }
            return weights.shape(name);
          }

          @Override
          public NDArray load(String name, NDManager manager, ai.djl.ndarray.types.DataType dtype) {
            return weights.load(name, manager, dtype);
          }
        };
    assertThatThrownBy(() -> new LlavaStModel(cfg, hidden, Device.cpu(), TEST_OPTIONS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("model.mm_projector.2.bias")
        .hasMessageContaining("(7)");
  }

  static int argmax(float[] x) {
    int b = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[b]) {
        b = i;
      }
    }
    return b;
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Prefix reuse: hits, media in the key, at least one recomputed token, sharing, LRU eviction. */
class PrefixCacheTest extends SchedulerTestBase {
  private static final int PLACEHOLDER = 151;

  /** 6 system tokens, 16 video positions (placeholder ids), then the question. */
  static PromptInput videoPrompt(String mediaKey, int questionSeed, int questionLength) {
    int[] sys = ids(99, 6);
    int[] q = ids(questionSeed, questionLength);
    int[] t = new int[6 + 16 + questionLength];
    System.arraycopy(sys, 0, t, 0, 6);
    for (int i = 0; i < 16; i++) {
      t[6 + i] = PLACEHOLDER;
    }
    System.arraycopy(q, 0, t, 22, questionLength);
    return new PromptInput(
        t,
        List.of(new PromptInput.VisualSpan(6, 16, new FakeFeatures(mediaKey, 16), 0)),
        List.of());
  }

  private RecordingSink run(String id, PromptInput p, int maxNew) {
    RecordingSink s = sink(id);
    submit(id, p, maxNew, s);
    runUntilIdle(100);
    assertThat(s.tokens())
        .as("tokens of %s", id)
        .isEqualTo(FakeExecutor.expected(p, SamplingParams.greedy(maxNew)));
    return s;
  }

  @Test
  void followUpQuestionOnTheSameVideoPrefillsOnlyTheQuestion() {
    startManual(1, 512, b -> {});
    RecordingSink first = run("q1", videoPrompt("vid-A", 1, 6), 4);
    assertThat(first.usage().cachedTokens()).isZero();
    // 28-token prompts share 22 tokens: 5 full blocks of 4 = 20 cached tokens.
    RecordingSink second = run("q2", videoPrompt("vid-A", 2, 6), 4);
    assertThat(second.usage().cachedTokens()).isEqualTo(20);
    assertThat(second.cachedAtStart()).isEqualTo(20);
    SchedulerStats.WorkerStats w = scheduler.stats().workers().get(0);
    assertThat(w.prefixQueryTokensTotal()).isEqualTo(56);
    assertThat(w.prefixHitTokensTotal()).isEqualTo(20);
    // the second request's first prefill started at position 20
    assertThat(executors.get(0).plans.get(4).get(0).start()).isEqualTo(20);
  }

  @Test
  void anotherVideoWithTheSamePlaceholderIdsDoesNotHitTheCache() {
    startManual(1, 512, b -> {});
    RecordingSink a = run("a", videoPrompt("vid-A", 1, 6), 4);
    RecordingSink b = run("b", videoPrompt("vid-B", 1, 6), 4);
    // only block 0 (system tokens 0..3) lies before the video span at position 6
    assertThat(b.usage().cachedTokens()).isEqualTo(4);
    assertThat(b.tokens()).isNotEqualTo(a.tokens());
  }

  @Test
  void valueTokensArePartOfTheKey() {
    startManual(1, 512, b -> {});
    int[] t = ids(5, 12);
    PromptInput v1 = new PromptInput(t, List.of(), List.of(new PromptInput.ValueToken(5, 0.25f)));
    PromptInput v2 = new PromptInput(t, List.of(), List.of(new PromptInput.ValueToken(5, 0.75f)));
    run("v1", v1, 3);
    RecordingSink s2 = run("v2", v2, 3);
    assertThat(s2.usage().cachedTokens()).isEqualTo(4); // block 1 holds position 5
  }

  @Test
  void identicalPromptStillComputesItsLastToken() {
    startManual(1, 512, b -> {});
    run("a", text(7, 16), 3);
    assertThat(run("b", text(7, 16), 3).usage().cachedTokens()).isEqualTo(12);
    run("c", text(8, 17), 3);
    assertThat(run("d", text(8, 17), 3).usage().cachedTokens()).isEqualTo(16);
  }

  @Test
  void runningSequencesShareCachedBlocks() {
    startManual(1, 512, b -> {});
    RecordingSink a = sink("a");
    RequestHandle ha = submit("a", text(9, 16), 6, a);
    step(); // a prefilled: blocks 0..3 full and registered
    RecordingSink b = sink("b");
    submit("b", text(9, 16), 6, b);
    step();
    Sequence sa = (Sequence) ha;
    BlockManager bm = scheduler.worker(0).blockManager();
    int[] table = scheduler.worker(0).kvCache().blockTable(sa);
    assertThat(b.cachedAtStart()).isEqualTo(12);
    assertThat(bm.refCount(table[0])).isEqualTo(2);
    assertThat(bm.refCount(table[2])).isEqualTo(2);
    assertThat(bm.refCount(table[3])).isEqualTo(1); // b recomputes position 15 in its own block
    runUntilIdle(50);
    assertThat(a.tokens()).isEqualTo(FakeExecutor.expected(text(9, 16), SamplingParams.greedy(6)));
    assertThat(b.tokens()).isEqualTo(a.tokens());
  }

  @Test
  void leastRecentlyUsedPrefixIsEvictedFirstAndFreeBlocksGoBeforeCachedOnes() {
    startManual(1, 512, b -> b.kvBlocks(8));
    PromptInput pa = text(21, 12);
    PromptInput pb = text(22, 12);
    PromptInput pc = text(23, 20);
    run("a", pa, 1); // 3 blocks cached, 5 free
    run("b", pb, 1); // 3 more cached from free blocks, 2 free
    BlockManager bm = scheduler.worker(0).blockManager();
    assertThat(bm.cachedCount()).isEqualTo(6);
    assertThat(bm.evictions()).isZero();
    run("c", pc, 1); // needs 5: 2 free + evicts a's 3 (the oldest)
    assertThat(bm.evictions()).isEqualTo(3);
    assertThat(run("b2", pb, 1).usage().cachedTokens()).isEqualTo(8);
    assertThat(run("a2", pa, 1).usage().cachedTokens()).isZero();
  }

  @Test
  void withPrefixCachingOffEveryPromptIsPrefilledWholeAndNoBlockStaysCached() {
    startManual(1, 512, b -> b.prefixCaching(false));
    RecordingSink first = run("q1", videoPrompt("vid-A", 1, 6), 4);
    RecordingSink second = run("q2", videoPrompt("vid-A", 2, 6), 4);
    RecordingSink same = run("q3", videoPrompt("vid-A", 2, 6), 4);
    assertThat(first.usage().cachedTokens()).isZero();
    assertThat(second.usage().cachedTokens()).isZero();
    assertThat(same.usage().cachedTokens()).isZero();
    assertThat(same.tokens()).isEqualTo(second.tokens());
    SchedulerStats.WorkerStats w = scheduler.stats().workers().get(0);
    assertThat(w.prefixHitTokensTotal()).isZero();
    assertThat(w.cachedBlocks()).isZero();
    assertThat(w.usedBlocks()).isZero();
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BlockManagerTest {

  @Test
  void allocatesUntilEmptyAndReturnsReleasedBlocks() {
    BlockManager bm = new BlockManager(3, 4);
    assertThat(bm.allocate()).isEqualTo(0);
    assertThat(bm.allocate()).isEqualTo(1);
    assertThat(bm.allocate()).isEqualTo(2);
    assertThat(bm.allocate()).isEqualTo(BlockManager.NONE);
    assertThat(bm.usedCount()).isEqualTo(3);
    bm.release(1);
    assertThat(bm.available()).isEqualTo(1);
    assertThat(bm.allocate()).isEqualTo(1);
    bm.release(0);
    bm.release(1);
    bm.release(2);
    bm.checkIdle();
    assertThat(bm.freeCount()).isEqualTo(3);
  }

  @Test
  void blocksForRoundsUp() {
    BlockManager bm = new BlockManager(8, 16);
    assertThat(bm.blocksFor(0)).isZero();
    assertThat(bm.blocksFor(1)).isEqualTo(1);
    assertThat(bm.blocksFor(16)).isEqualTo(1);
    assertThat(bm.blocksFor(17)).isEqualTo(2);
  }

  @Test
  void sharedBlockStaysReferencedUntilLastRelease() {
    BlockManager bm = new BlockManager(2, 4);
    int b = bm.allocate();
    bm.register(b, 42L);
    bm.acquire(bm.lookup(42L));
    assertThat(bm.refCount(b)).isEqualTo(2);
    bm.release(b);
    assertThat(bm.usedCount()).isEqualTo(1);
    bm.release(b);
    assertThat(bm.usedCount()).isZero();
    assertThat(bm.cachedCount()).isEqualTo(1);
    assertThat(bm.lookup(42L)).isEqualTo(b);
    assertThatThrownBy(() -> bm.release(b))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("ref count 0");
    bm.checkIdle();
  }

  @Test
  void cachedBlocksAreEvictedLeastRecentlyUsedFirstAndOnlyWhenNothingIsFree() {
    BlockManager bm = new BlockManager(3, 4);
    int a = bm.allocate();
    int b = bm.allocate();
    int c = bm.allocate();
    bm.register(a, 1L);
    bm.register(b, 2L);
    bm.release(b); // b cached first (older)
    bm.release(a); // then a
    bm.release(c); // c unregistered -> free
    assertThat(bm.freeCount()).isEqualTo(1);
    assertThat(bm.cachedCount()).isEqualTo(2);
    assertThat(bm.allocate()).isEqualTo(c); // free block first, cache untouched
    assertThat(bm.lookup(1L)).isEqualTo(a);
    assertThat(bm.allocate()).isEqualTo(b); // oldest cached evicted
    assertThat(bm.lookup(2L)).isEqualTo(BlockManager.NONE);
    assertThat(bm.lookup(1L)).isEqualTo(a);
    assertThat(bm.evictions()).isEqualTo(1);
    // Re-using a cached block takes it out of the LRU: nothing left to hand out.
    bm.acquire(a);
    assertThat(bm.allocate()).isEqualTo(BlockManager.NONE);
    bm.release(a);
    bm.release(b);
    bm.release(c);
    bm.checkIdle();
  }

  @Test
  void duplicateHashKeepsTheFirstBlockAsTheCachedCopy() {
    BlockManager bm = new BlockManager(2, 4);
    int a = bm.allocate();
    int b = bm.allocate();
    bm.register(a, 7L);
    bm.register(b, 7L);
    bm.release(b);
    assertThat(bm.freeCount()).isEqualTo(1); // b was never registered
    bm.release(a);
    assertThat(bm.cachedCount()).isEqualTo(1);
    assertThat(bm.lookup(7L)).isEqualTo(a);
    bm.checkIdle();
  }

  @Test
  void checkIdleNamesALeakedBlock() {
    BlockManager bm = new BlockManager(2, 4);
    bm.allocate();
    assertThatThrownBy(bm::checkIdle).hasMessage("block 0 still has ref count 1");
  }

  @Test
  void hashDependsOnPrefixTokensMediaAndValues() {
    MediaFeatures fa = new FakeFeatures("video-a", 8);
    MediaFeatures fb = new FakeFeatures("video-b", 8);
    int[] t = {5, 6, 7, 8, 9, 10, 11, 12};
    PromptInput plain = PromptInput.ofTokens(t);
    PromptInput withA =
        new PromptInput(
            t, java.util.List.of(new PromptInput.VisualSpan(2, 4, fa, 0)), java.util.List.of());
    PromptInput withB =
        new PromptInput(
            t, java.util.List.of(new PromptInput.VisualSpan(2, 4, fb, 0)), java.util.List.of());
    PromptInput withValue =
        new PromptInput(
            t, java.util.List.of(), java.util.List.of(new PromptInput.ValueToken(1, 0.4f)));
    long p0 = BlockHasher.hash(0, t, plain, 0, 4);
    assertThat(BlockHasher.hash(0, t, withA, 0, 4))
        .isNotEqualTo(p0)
        .isNotEqualTo(BlockHasher.hash(0, t, withB, 0, 4));
    assertThat(BlockHasher.hash(0, t, withValue, 0, 4)).isNotEqualTo(p0);
    assertThat(BlockHasher.hash(0, t, plain, 0, 4)).isEqualTo(p0);
    // block 1 of the plain prompt depends on block 0's hash
    assertThat(BlockHasher.hash(p0, t, plain, 1, 4))
        .isNotEqualTo(BlockHasher.hash(p0 + 1, t, plain, 1, 4));
  }
}

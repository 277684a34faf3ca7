package dev.llavast.scheduler;

import java.util.HashMap;
import java.util.Map;

/**
 * A fixed pool of KV blocks with reference counts and a prefix cache.
 *
 * <p>A block is in exactly one of three states: <i>free</i> (on the free stack, no content worth
 * keeping), <i>referenced</i> (ref count &gt; 0, owned by one or more sequences) or <i>cached</i>
 * (ref count 0 but holding a full block registered under a content hash; kept in LRU order and
 * evicted only when the free stack is empty). A block registered under a hash is only ever read by
 * the sequences that share it: it is full, so nobody writes to it again.
 *
 * <p>Not thread-safe: owned by one worker thread. The {@code volatile} counts may be read by any
 * thread for statistics.
 */
final class BlockManager {
  static final int NONE = -1;

  private final int numBlocks;
  private final int blockSize;
  private final int[] refCount;
  private final long[] hash;
  private final boolean[] hashed;
  private final int[] freeStack;
  private int freeTop;
  // LRU of cached (unreferenced, hashed) blocks: an intrusive doubly linked list, head = oldest.
  private final int[] lruPrev;
  private final int[] lruNext;
  private int lruHead = NONE;
  private int lruTail = NONE;
  private int lruSize;
  private final Map<Long, Integer> byHash = new HashMap<>();
  private long evictions;

  BlockManager(int numBlocks, int blockSize) {
    if (numBlocks <= 0 || blockSize <= 0) {
      throw new IllegalArgumentException(
          "numBlocks and blockSize must be > 0, got " + numBlocks + ", " + blockSize);
    }
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    refCount = new int[numBlocks];
    hash = new long[numBlocks];
    hashed = new boolean[numBlocks];
    freeStack = new int[numBlocks];
    lruPrev = new int[numBlocks];
    lruNext = new int[numBlocks];
    // Lowest ids on top, so allocation order is 0, 1, 2, ... (makes tests readable).
    for (int i = 0; i < numBlocks; i++) {
      freeStack[i] = numBlocks - 1 - i;
    }
    freeTop = numBlocks;
  }

  int numBlocks() {
    return numBlocks;
  }

  int blockSize() {
    return blockSize;
  }

  /** Blocks needed to hold {@code positions} token slots. */
  int blocksFor(int positions) {
    return (positions + blockSize - 1) / blockSize;
  }

  /** Blocks that {@link #allocate()} can hand out now: free plus evictable cached ones. */
  int available() {
    return freeTop + lruSize;
  }

  int freeCount() {
    return freeTop;
  }

  int cachedCount() {
    return lruSize;
  }

  int usedCount() {
    return numBlocks - freeTop - lruSize;
  }

  long evictions() {
    return evictions;
  }

  int refCount(int block) {
    return refCount[block];
  }

  /**
   * Takes a block with ref count 1: a free one if any, else evicts the least recently used cached
   * block (dropping its hash).
   *
   * @return the block id, or {@link #NONE} if every block is referenced
   */
  int allocate() {
    int b;
    if (freeTop > 0) {
      b = freeStack[--freeTop];
    } else if (lruHead != NONE) {
      b = lruHead;
      lruRemove(b);
      byHash.remove(hash[b]);
      hashed[b] = false;
      evictions++;
    } else {
      return NONE;
    }
    refCount[b] = 1;
    return b;
  }

  /** The block cached under {@code h}, or {@link #NONE}. Does not take a reference. */
  int lookup(long h) {
    Integer b = byHash.get(h);
    return b == null ? NONE : b;
  }

  /** Whether {@code block} is cached and unreferenced (taking it reduces {@link #available()}). */
  boolean isEvictable(int block) {
    return refCount[block] == 0 && hashed[block];
  }

  /** Takes one more reference on a block found by {@link #lookup}. */
  void acquire(int block) {
    if (refCount[block] == 0) {
      if (!hashed[block]) {
        throw new IllegalStateException(
            "block " + block + " is free, not cached; cannot acquire it");
      }
      lruRemove(block);
    }
    refCount[block]++;
  }

  /**
   * Registers a full, referenced block under its content hash so later sequences can reuse it. If
   * another block already holds that hash (the same prefix computed twice), the existing one stays
   * the cached copy and this one remains private.
   */
  void register(int block, long h) {
    if (refCount[block] <= 0) {
      throw new IllegalStateException(
          "block " + block + " must be referenced to register it, ref=" + refCount[block]);
    }
    if (hashed[block] || byHash.containsKey(h)) {
      return;
    }
    byHash.put(h, block);
    hash[block] = h;
    hashed[block] = true;
  }

  /** Drops one reference; at zero the block becomes cached (if registered) or free. */
  void release(int block) {
    int r = refCount[block];
    if (r <= 0) {
      throw new IllegalStateException("block " + block + " released with ref count " + r);
    }
    refCount[block] = r - 1;
    if (r == 1) {
      if (hashed[block]) {
        lruAppend(block);
      } else {
        freeStack[freeTop++] = block;
      }
    }
  }

  /** Drops the whole prefix cache (all cached blocks become free). */
  void clearCache() {
    while (lruHead != NONE) {
      int b = lruHead;
      lruRemove(b);
      byHash.remove(hash[b]);
      hashed[b] = false;
      freeStack[freeTop++] = b;
    }
  }

  /**
   * Checks the structure: counts add up, no block is referenced, hash index consistent. For tests
   * and shutdown.
   *
   * @throws IllegalStateException naming the first violation
   */
  void checkIdle() {
    for (int b = 0; b < numBlocks; b++) {
      if (refCount[b] != 0) {
        throw new IllegalStateException("block " + b + " still has ref count " + refCount[b]);
      }
    }
    if (freeTop + lruSize != numBlocks) {
      throw new IllegalStateException(
          "free " + freeTop + " + cached " + lruSize + " != pool " + numBlocks);
    }
    if (byHash.size() != lruSize) {
      throw new IllegalStateException(
          "hash index has " + byHash.size() + " entries but " + lruSize + " cached blocks");
    }
    int n = 0;
    for (int b = lruHead; b != NONE; b = lruNext[b]) {
      if (!hashed[b] || !Integer.valueOf(b).equals(byHash.get(hash[b]))) {
        throw new IllegalStateException("cached block " + b + " is not indexed by its hash");
      }
      n++;
    }
    if (n != lruSize) {
      throw new IllegalStateException("LRU list has " + n + " blocks, expected " + lruSize);
    }
  }

  private void lruAppend(int b) {
    lruPrev[b] = lruTail;
    lruNext[b] = NONE;
    if (lruTail != NONE) {
      lruNext[lruTail] = b;
    } else {
      lruHead = b;
    }
    lruTail = b;
    lruSize++;
  }

  private void lruRemove(int b) {
    int p = lruPrev[b];
    int n = lruNext[b];
    if (p != NONE) {
      lruNext[p] = n;
    } else {
      lruHead = n;
    }
    if (n != NONE) {
      lruPrev[n] = p;
    } else {
      lruTail = p;
    }
    lruSize--;
  }
}

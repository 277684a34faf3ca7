package dev.llavast.scheduler;

import java.util.Arrays;
import java.util.List;

/**
 * Owns one worker's KV pool and every sequence's block table: prefix lookup at admission, growing a
 * table or refusing, caching full blocks under their content hash, freeing. No other class reads or
 * writes a block id; the planner asks in positions and gets answers in positions or blocks.
 *
 * <p>Not thread-safe: confined to the worker thread (or the test thread that drives a planner).
 */
final class KvCacheManager {
  private final BlockManager pool;
  private final int blockSize;
  private final boolean prefixCaching;

  /** Scratch for one prefix lookup: the cached block ids found, in order. */
  private final int[] hitBuffer;

  KvCacheManager(int numBlocks, int blockSize) {
    this(numBlocks, blockSize, true);
  }

  /**
   * @param prefixCaching false: no block is ever registered under its hash or looked up, so every
   *     sequence computes its whole prompt and a freed block is free at once
   */
  KvCacheManager(int numBlocks, int blockSize, boolean prefixCaching) {
    this.pool = new BlockManager(numBlocks, blockSize);
    this.blockSize = blockSize;
    this.prefixCaching = prefixCaching;
    this.hitBuffer = new int[numBlocks];
  }

  /**
   * A sequence's KV blocks, logical block {@code i} at {@code ids[i]}, and the content hashes of
   * its leading full blocks. Its fields are private to {@link KvCacheManager}.
   */
  static final class BlockTable {
    private int[] ids = new int[8];
    private int size;

    /** Content hashes of the leading full blocks, valid for {@code [0, numHashes)}. */
    private long[] hashes = new long[8];

    private int numHashes;

    /** Leading blocks registered in (or taken from) the prefix cache. */
    private int numCached;

    /** Blocks held. */
    int size() {
      return size;
    }

    private void add(int block) {
      if (size == ids.length) {
        ids = Arrays.copyOf(ids, ids.length * 2);
      }
      ids[size++] = block;
    }
  }

  int blockSize() {
    return blockSize;
  }

  int numBlocks() {
    return pool.numBlocks();
  }

  /** Blocks that can be handed out now: free plus evictable cached ones. */
  int available() {
    return pool.available();
  }

  int usedBlocks() {
    return pool.usedCount();
  }

  int cachedBlocks() {
    return pool.cachedCount();
  }

  /** Whether a sequence of {@code positions} slots could ever be held by this pool alone. */
  boolean canEverHold(int positions) {
    return pool.blocksFor(positions) <= pool.numBlocks();
  }

  /** Positions {@code s} could hold if it took every available block. */
  int capacity(Sequence s) {
    return (s.kv.size + pool.available()) * blockSize;
  }

  /** Blocks {@code s} still lacks to hold {@code positions} slots, beyond what is available now. */
  int shortfall(Sequence s, int positions) {
    return pool.blocksFor(positions) - s.kv.size - pool.available();
  }

  /**
   * Grows {@code s}'s table to hold {@code positions} slots.
   *
   * @throws IllegalStateException if the pool cannot (check {@link #shortfall} first)
   */
  void grow(Sequence s, int positions) {
    int need = pool.blocksFor(positions) - s.kv.size;
    if (need > pool.available()) {
      throw new IllegalStateException(
          "need "
              + need
              + " blocks for "
              + positions
              + " positions, "
              + pool.available()
              + " available");
    }
    for (; need > 0; need--) {
      s.kv.add(pool.allocate());
    }
  }

  /** {@link #admitWithPrefix}: the pool cannot hold the sequence yet. */
  static final int NO_ROOM = -1;

  /**
   * {@link #admitWithPrefix}: the first prompt block the prefix cache lacks is one a running
   * sequence is still prefilling (the same tokens after the same prefix: questions on a video whose
   * features just arrived). Admitted now, the sequence would compute it again in parallel; a step
   * or two later it finds it cached.
   */
  static final int PREFIX_IN_FLIGHT = -2;

  /**
   * Admission of a waiting sequence: if its whole known length fits once the cached prefix is
   * reused, takes that prefix (one more reference per block) and returns the positions it covers;
   * else takes nothing and returns {@link #NO_ROOM}, or {@link #PREFIX_IN_FLIGHT} when a sequence
   * of {@code running} is computing its next block. At least the last known token is always left to
   * compute.
   */
  int admitWithPrefix(Sequence s, List<Sequence> running) {
    int hits = lookupPrefix(s);
    if (nextBlockInFlight(s, hits, running)) {
      return PREFIX_IN_FLIGHT;
    }
    int hitsEvictable = 0;
    for (int i = 0; i < hits; i++) {
      if (pool.isEvictable(hitBuffer[i])) {
        hitsEvictable++;
      }
    }
    int newBlocks = pool.blocksFor(s.length) - hits;
    if (newBlocks > pool.available() - hitsEvictable) {
      return NO_ROOM;
    }
    for (int i = 0; i < hits; i++) {
      pool.acquire(hitBuffer[i]);
      s.kv.add(hitBuffer[i]);
    }
    s.kv.numCached = hits;
    return hits * blockSize;
  }

  /**
   * The leading blocks of {@code s} found in the prefix cache (at most all but its last known
   * token), their ids in {@link #hitBuffer}; takes nothing.
   */
  private int lookupPrefix(Sequence s) {
    int maxHit = prefixCaching ? (s.length - 1) / blockSize : 0;
    int hits = 0;
    while (hits < maxHit) {
      int b = pool.lookup(hashOf(s, hits));
      if (b == BlockManager.NONE) {
        break;
      }
      hitBuffer[hits++] = b;
    }
    return hits;
  }

  /**
   * Whether block {@code next} of {@code s}, the first the prefix cache lacks, is one a sequence of
   * {@code running} is still prefilling (see {@link #PREFIX_IN_FLIGHT}).
   */
  private boolean nextBlockInFlight(Sequence s, int next, List<Sequence> running) {
    if (!prefixCaching || next >= (s.length - 1) / blockSize) {
      return false; // nothing more could be reused
    }
    long want = hashOf(s, next);
    for (int i = 0, n = running.size(); i < n; i++) {
      Sequence r = running.get(i);
      if (r != s
          && !r.done
          && r.numComputed < r.promptLength
          && next >= r.numComputed / blockSize
          && next < r.promptLength / blockSize
          && hashOf(r, next) == want) {
        return true;
      }
    }
    return false;
  }

  /** Registers the full blocks of {@code s}'s computed positions in the prefix cache. */
  void cacheFullBlocks(Sequence s) {
    if (!prefixCaching) {
      return;
    }
    BlockTable t = s.kv;
    int full = s.numComputed / blockSize;
    while (t.numCached < full) {
      int i = t.numCached;
      pool.register(t.ids[i], hashOf(s, i));
      t.numCached++;
    }
  }

  /**
   * Releases every block of {@code s}, tail first so a cached prefix's tail is evicted before its
   * head.
   */
  void free(Sequence s) {
    BlockTable t = s.kv;
    for (int i = t.size - 1; i >= 0; i--) {
      pool.release(t.ids[i]);
    }
    t.size = 0;
    t.numCached = 0;
  }

  /** A copy of {@code s}'s table for a step (the executor must not keep it). */
  int[] blockTable(Sequence s) {
    return Arrays.copyOf(s.kv.ids, s.kv.size);
  }

  /**
   * The hash of full block {@code index} of {@code s}, computing (and remembering) the chain up to
   * it.
   */
  private long hashOf(Sequence s, int index) {
    BlockTable t = s.kv;
    while (t.numHashes <= index) {
      int i = t.numHashes;
      long prev = i == 0 ? 0L : t.hashes[i - 1];
      if (i == t.hashes.length) {
        t.hashes = Arrays.copyOf(t.hashes, t.hashes.length * 2);
      }
      t.hashes[i] = BlockHasher.hash(prev, s.tokens, s.prompt(), i, blockSize);
      t.numHashes++;
    }
    return t.hashes[index];
  }

  /** For tests and shutdown: the pool (same thread rules). */
  BlockManager pool() {
    return pool;
  }
}

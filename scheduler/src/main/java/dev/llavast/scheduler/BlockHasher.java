package dev.llavast.scheduler;

import java.util.List;

/**
 * Content hash of one full KV block for prefix reuse: a chain over (hash of the previous block, the
 * token ids in the block, for every visual span overlapping the block its media key and the feature
 * rows it covers, and the value tokens in the block). Folding the media in keeps two videos with
 * the same placeholder ids apart; folding the chain in makes a block's hash stand for its whole
 * prefix.
 *
 * <p>64-bit: a collision between different prefixes is possible in principle (about 1 in 2^64 per
 * pair) and would reuse wrong K/V; this is the same trade as vLLM's and SGLang's.
 *
 * <p>Stateless and thread-safe.
 */
final class BlockHasher {
  private static final long SEED = 0x9E3779B97F4A7C15L;

  private BlockHasher() {}

  /**
   * @param prev hash of block {@code index - 1}, ignored for block 0
   * @param tokens all known token ids of the sequence (prompt then generated)
   * @param prompt the prompt (visual spans and value tokens are looked up in it)
   * @param index block index; the block covers positions {@code [index * blockSize, (index + 1) *
   *     blockSize)}
   */
  static long hash(long prev, int[] tokens, PromptInput prompt, int index, int blockSize) {
    int start = index * blockSize;
    int end = start + blockSize;
    long h = index == 0 ? SEED : mix(prev ^ SEED);
    for (int p = start; p < end; p++) {
      h = mix(h ^ (tokens[p] & 0xFFFFFFFFL));
    }
    if (start < prompt.length()) {
      List<PromptInput.VisualSpan> spans = prompt.visualSpans();
      for (int i = 0; i < spans.size(); i++) {
        PromptInput.VisualSpan s = spans.get(i);
        int from = Math.max(start, s.start());
        int to = Math.min(end, s.start() + s.length());
        if (from < to) {
          h = mix(h ^ stringHash(s.features().mediaKey()));
          h = mix(h ^ (((long) (from - start) << 32) | (to - from)));
          h = mix(h ^ (s.featureOffset() + (from - s.start())));
        }
      }
      List<PromptInput.ValueToken> values = prompt.valueTokens();
      for (int i = 0; i < values.size(); i++) {
        PromptInput.ValueToken v = values.get(i);
        if (v.position() >= start && v.position() < end) {
          h =
              mix(
                  h
                      ^ (((long) (v.position() - start) << 32)
                          | (Float.floatToIntBits(v.value()) & 0xFFFFFFFFL)));
        }
      }
    }
    return h;
  }

  /** 64-bit FNV-1a of the UTF-16 units, then mixed. */
  static long stringHash(String s) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= 0x100000001b3L;
    }
    return mix(h);
  }

  /** SplitMix64 finalizer. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

package dev.llavast.models.sampling;

import java.util.Arrays;

/**
 * The ids a constrained sequence may sample next: ranges of ordinary ids (shared, precomputed per
 * grammar state), at most one range of coordinate bins, and a few single ids (the stop ids). Built
 * from ranges, applied with array fills and copies, never a loop over the vocabulary in Java.
 * Immutable; any thread.
 */
public final class TokenMask {
  private final int[] textRanges;
  private final int binStart;
  private final int binEnd;
  private final int[] singles;
  private final int count;

  /**
   * @param textRanges {@code [start0, end0, start1, end1, ...]}, half-open, disjoint (not copied:
   *     shared)
   * @param binStart first allowed bin id ({@code binEnd == binStart}: none)
   * @param binEnd one past the last allowed bin id
   * @param singles further allowed ids (may overlap the ranges)
   */
  TokenMask(int[] textRanges, int binStart, int binEnd, int[] singles) {
    this.textRanges = textRanges;
    this.binStart = binStart;
    this.binEnd = Math.max(binStart, binEnd);
    this.singles = Arrays.stream(singles).distinct().filter(id -> !inRanges(id)).toArray();
    int n = this.binEnd - binStart + this.singles.length;
    for (int i = 0; i < textRanges.length; i += 2) {
      n += textRanges[i + 1] - textRanges[i];
    }
    this.count = n;
  }

  /** How many ids are allowed. */
  public int count() {
    return count;
  }

  /** The only allowed id, when {@link #count()} is 1 (a forced token); else -1. */
  public int single() {
    if (count != 1) {
      return -1;
    }
    if (binEnd > binStart) {
      return binStart;
    }
    if (textRanges.length > 0) {
      return textRanges[0];
    }
    return singles[0];
  }

  /** Whether {@code id} is allowed. */
  public boolean allows(int id) {
    if (inRanges(id)) {
      return true;
    }
    for (int s : singles) {
      if (s == id) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@code logits[offset, offset + vocab)} with every id that is not allowed at negative infinity,
   * as a new array of {@code vocab} floats.
   */
  public float[] apply(float[] logits, int offset, int vocab) {
    float[] x = new float[vocab];
    Arrays.fill(x, Float.NEGATIVE_INFINITY);
    for (int i = 0; i < textRanges.length; i += 2) {
      int s = textRanges[i];
      int e = Math.min(textRanges[i + 1], vocab);
      if (e > s) {
        System.arraycopy(logits, offset + s, x, s, e - s);
      }
    }
    int be = Math.min(binEnd, vocab);
    if (be > binStart) {
      System.arraycopy(logits, offset + binStart, x, binStart, be - binStart);
    }
    for (int id : singles) {
      if (id >= 0 && id < vocab) {
        x[id] = logits[offset + id];
      }
    }
    return x;
  }

  private boolean inRanges(int id) {
    if (id >= binStart && id < binEnd) {
      return true;
    }
    for (int i = 0; i < textRanges.length; i += 2) {
      if (id >= textRanges[i] && id < textRanges[i + 1]) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "TokenMask[" + count + " ids]";
  }
}

package dev.llavast.scheduler;

import java.util.List;
import java.util.Objects;

/**
 * A rendered prompt: token ids plus what replaces some of their embeddings.
 *
 * <p>The token ids alone do not determine the embeddings: visual spans splice media features over
 * placeholder positions, and value tokens (LLaVA-ST's {@code <TEMP-INPUT>} etc.) carry a continuous
 * coordinate. Both are part of the identity of a KV block for prefix reuse.
 *
 * @param tokenIds the prompt ids, position {@code i} at index {@code i}; never modified after
 *     creation
 * @param visualSpans feature splices, sorted by start, non-overlapping
 * @param valueTokens continuous values at positions, sorted by position
 */
public record PromptInput(
    int[] tokenIds, List<VisualSpan> visualSpans, List<ValueToken> valueTokens) {
  public PromptInput {
    Objects.requireNonNull(tokenIds, "tokenIds");
    visualSpans = List.copyOf(visualSpans);
    valueTokens = List.copyOf(valueTokens);
    int end = 0;
    for (VisualSpan s : visualSpans) {
      if (s.start() < end || s.start() + s.length() > tokenIds.length) {
        throw new IllegalArgumentException(
            "visual span "
                + s
                + " overlaps another or lies outside the "
                + tokenIds.length
                + "-token prompt");
      }
      end = s.start() + s.length();
    }
    for (ValueToken v : valueTokens) {
      if (v.position() < 0 || v.position() >= tokenIds.length) {
        throw new IllegalArgumentException(
            "value token " + v + " lies outside the " + tokenIds.length + "-token prompt");
      }
    }
  }

  /** A prompt of plain text tokens. */
  public static PromptInput ofTokens(int... tokenIds) {
    return new PromptInput(tokenIds.clone(), List.of(), List.of());
  }

  public int length() {
    return tokenIds.length;
  }

  /**
   * Media features spliced over prompt positions {@code [start, start + length)}; position {@code
   * start + i} takes feature row {@code featureOffset + i}.
   */
  public record VisualSpan(int start, int length, MediaFeatures features, int featureOffset) {
    public VisualSpan {
      Objects.requireNonNull(features, "features");
      if (start < 0
          || length <= 0
          || featureOffset < 0
          || featureOffset + length > features.tokenCount()) {
        throw new IllegalArgumentException(
            "bad visual span start="
                + start
                + " length="
                + length
                + " featureOffset="
                + featureOffset
                + " for "
                + features.tokenCount()
                + " feature rows");
      }
    }
  }

  /**
   * A continuous coordinate value attached to one prompt position (e.g. {@code <TEMP-INPUT>} with
   * normalized value 0.41).
   */
  public record ValueToken(int position, float value) {}
}

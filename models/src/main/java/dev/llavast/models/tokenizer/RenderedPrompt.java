package dev.llavast.models.tokenizer;

import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A chat prompt rendered into token ids (spec §6): where the media block sits, which part of it the
 * encoded features overwrite, and the continuous values of the coordinate slots. Immutable (the id
 * array is never modified after creation); any thread.
 *
 * @param tokenIds the prompt ids
 * @param media what the prompt carries
 * @param mediaStart index of the first media marker ({@code <im_start>} or {@code <vid_start>},
 *     p0), -1 if none
 * @param visualStart first position the features overwrite (image: p0; video: p0 + 900), -1 if none
 * @param visualLength positions the features overwrite (image 729, video 1620), 0 if none
 * @param valueTokens value-slot positions ({@code <TEMP-INPUT>} etc.) with their values in [0, 1],
 *     by position
 */
public record RenderedPrompt(
    int[] tokenIds,
    ChatTemplate.Media media,
    int mediaStart,
    int visualStart,
    int visualLength,
    List<PromptInput.ValueToken> valueTokens) {

  public RenderedPrompt {
    Objects.requireNonNull(tokenIds, "tokenIds");
    Objects.requireNonNull(media, "media");
    valueTokens = List.copyOf(valueTokens);
  }

  /** Number of ids. */
  public int length() {
    return tokenIds.length;
  }

  /**
   * The scheduler's prompt: these ids with {@code features} spliced over the visual span.
   *
   * @param features the encoded media ({@code tokenCount() == visualLength()}), or null for a text
   *     prompt
   * @throws IllegalArgumentException if features are missing, superfluous or of the wrong size
   */
  public PromptInput toPromptInput(@Nullable MediaFeatures features) {
    if (media == ChatTemplate.Media.NONE) {
      if (features != null) {
        throw new IllegalArgumentException(
            "a text-only prompt takes no media features, got " + features.mediaKey());
      }
      return new PromptInput(tokenIds, List.of(), valueTokens);
    }
    if (features == null) {
      throw new IllegalArgumentException("a " + media + " prompt needs media features");
    }
    if (features.tokenCount() != visualLength) {
      throw new IllegalArgumentException(
          "a "
              + media
              + " prompt splices "
              + visualLength
              + " feature rows, but "
              + features.mediaKey()
              + " has "
              + features.tokenCount());
    }
    return new PromptInput(
        tokenIds,
        List.of(new PromptInput.VisualSpan(visualStart, visualLength, features, 0)),
        valueTokens);
  }
}

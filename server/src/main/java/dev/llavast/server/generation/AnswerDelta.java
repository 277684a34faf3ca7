package dev.llavast.server.generation;

import java.util.List;

/**
 * What an answer added since the previous delta. {@code text} is always whole UTF-8 characters, and
 * every coordinate group whose text it completes is in {@code coordinates} of the same delta, never
 * split across two. Concatenating every delta's text gives {@link FinalAnswer#text()}.
 *
 * @param text new text (may be empty when only ids arrived)
 * @param coordinates the groups completed by this delta, in answer order
 * @param tokenIds ids generated since the previous delta
 * @param logprobs their log-probabilities ({@code NaN} when not requested)
 * @param clipStartSeconds where the clip starts in the media: coordinates' seconds count from it
 */
public record AnswerDelta(
    String text,
    List<AnswerCoordinate> coordinates,
    int[] tokenIds,
    float[] logprobs,
    double clipStartSeconds) {
  public AnswerDelta {
    coordinates = List.copyOf(coordinates);
  }
}

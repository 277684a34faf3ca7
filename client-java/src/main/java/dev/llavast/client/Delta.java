package dev.llavast.client;

import java.util.List;

/**
 * New output since the previous delta.
 *
 * @param text new text (coordinate tokens in literal form)
 * @param tokenIds ids generated since the previous delta (empty unless requested)
 * @param logprobs their log-probabilities (empty unless requested)
 * @param coordinates coordinate groups completed by this delta
 */
public record Delta(
    String text, List<Integer> tokenIds, List<Float> logprobs, List<Coordinate> coordinates)
    implements StreamEvent {
  public Delta {
    tokenIds = List.copyOf(tokenIds);
    logprobs = List.copyOf(logprobs);
    coordinates = List.copyOf(coordinates);
  }
}

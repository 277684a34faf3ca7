package dev.llavast.client;

import dev.llavast.api.v1.FinishReason;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.Timings;
import dev.llavast.api.v1.Usage;
import java.util.List;

/**
 * The final result of one generation (the last message of a stream, or the response of Generate).
 *
 * @param proto the message as received, for fields this record does not lift (task result, token
 *     ids)
 */
public record Answer(
    String requestId,
    FinishReason finishReason,
    String text,
    List<Coordinate> coordinates,
    Usage usage,
    Timings timings,
    String mediaId,
    GenerateFinal proto)
    implements StreamEvent {
  public Answer {
    coordinates = List.copyOf(coordinates);
  }

  static Answer of(GenerateFinal f) {
    return new Answer(
        f.getRequestId(),
        f.getFinishReason(),
        f.getText(),
        Convert.coordinates(f.getCoordinatesList()),
        f.getUsage(),
        f.getTimings(),
        f.getMediaId(),
        f);
  }
}

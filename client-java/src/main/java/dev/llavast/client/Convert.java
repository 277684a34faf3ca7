package dev.llavast.client;

import dev.llavast.api.v1.GenerateDelta;
import dev.llavast.api.v1.GenerateStreamResponse;
import java.util.ArrayList;
import java.util.List;

/** Proto messages to the client's records. Stateless; any thread. */
final class Convert {
  private Convert() {}

  static Timestamp timestamp(dev.llavast.api.v1.Timestamp t) {
    return new Timestamp(t.getSeconds(), t.getMediaSeconds(), t.getNormalized(), t.getBin());
  }

  static BoxCoordinate boxCoordinate(dev.llavast.api.v1.BoxCoordinate c) {
    return new BoxCoordinate(c.getPx(), c.getNormalized(), c.getBin());
  }

  static Box box(dev.llavast.api.v1.Box b) {
    return new Box(
        boxCoordinate(b.getX1()),
        boxCoordinate(b.getY1()),
        boxCoordinate(b.getX2()),
        boxCoordinate(b.getY2()));
  }

  static Span span(dev.llavast.api.v1.Span s) {
    return new Span(timestamp(s.getStart()), timestamp(s.getEnd()));
  }

  static TimedBox timedBox(dev.llavast.api.v1.TimedBox tb) {
    return new TimedBox(timestamp(tb.getTime()), box(tb.getBox()), tb.getSampledFrame());
  }

  static Coordinate coordinate(dev.llavast.api.v1.Coordinate c) {
    CoordinateValue v =
        switch (c.getValueCase()) {
          case TIMESTAMP -> timestamp(c.getTimestamp());
          case SPAN -> span(c.getSpan());
          case BOX -> box(c.getBox());
          case TIMED_BOX -> timedBox(c.getTimedBox());
          case VALUE_NOT_SET ->
              throw new IllegalArgumentException(
                  "coordinate at text offset "
                      + c.getTextOffsetBytes()
                      + " has no value; expected one of timestamp, span, box, timed_box");
        };
    return new Coordinate(v, c.getTextOffsetBytes());
  }

  static List<Coordinate> coordinates(List<dev.llavast.api.v1.Coordinate> cs) {
    List<Coordinate> out = new ArrayList<>(cs.size());
    for (dev.llavast.api.v1.Coordinate c : cs) {
      out.add(coordinate(c));
    }
    return out;
  }

  static Delta delta(GenerateDelta d) {
    return new Delta(
        d.getText(), d.getTokenIdsList(), d.getLogprobsList(), coordinates(d.getCoordinatesList()));
  }

  static StreamEvent event(GenerateStreamResponse r) {
    return switch (r.getEventCase()) {
      case DELTA -> delta(r.getDelta());
      case FINAL -> Answer.of(r.getFinal());
      case EVENT_NOT_SET ->
          throw new IllegalArgumentException("stream message has neither delta nor final");
    };
  }
}

package dev.llavast.client;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One coordinate group as the client's JSON outputs write it (the CLI's {@code --json} answers and
 * {@code eval}'s predictions): {@code type} ({@code time}, {@code span}, {@code box}, {@code
 * timed_box}); times as {@code seconds}, {@code media_seconds}, {@code normalized}, {@code bin};
 * boxes as {@code x1_px}…, {@code x1_normalized}…, {@code x1_bin}…. Stateless.
 */
public final class CoordinateJson {
  private CoordinateJson() {}

  /** The JSON of {@code c}. */
  public static ObjectNode of(Coordinate c) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("text_offset_bytes", c.textOffsetBytes());
    if (c.value() instanceof Timestamp t) {
      o.put("type", "time");
      time(o.putObject("time"), t);
    } else if (c.value() instanceof Span s) {
      o.put("type", "span");
      time(o.putObject("start"), s.start());
      time(o.putObject("end"), s.end());
    } else if (c.value() instanceof Box b) {
      o.put("type", "box");
      box(o.putObject("box"), b);
    } else if (c.value() instanceof TimedBox tb) {
      o.put("type", "timed_box");
      time(o.putObject("time"), tb.time());
      box(o.putObject("box"), tb.box());
      o.put("sampled_frame", tb.sampledFrame());
    }
    return o;
  }

  private static void time(ObjectNode o, Timestamp t) {
    o.put("seconds", t.seconds());
    o.put("media_seconds", t.mediaSeconds());
    o.put("normalized", t.normalized());
    o.put("bin", t.bin());
  }

  private static void box(ObjectNode o, Box b) {
    String[] names = {"x1", "y1", "x2", "y2"};
    BoxCoordinate[] cs = {b.x1(), b.y1(), b.x2(), b.y2()};
    for (int i = 0; i < 4; i++) {
      o.put(names[i] + "_px", cs[i].px());
    }
    for (int i = 0; i < 4; i++) {
      o.put(names[i] + "_normalized", cs[i].normalized());
    }
    for (int i = 0; i < 4; i++) {
      o.put(names[i] + "_bin", cs[i].bin());
    }
  }
}

package dev.llavast.client;

/**
 * One coordinate group found in generated text.
 *
 * @param value the decoded value
 * @param textOffsetBytes offset in UTF-8 bytes of its first character in the full generated text
 */
public record Coordinate(CoordinateValue value, int textOffsetBytes) {

  /**
   * A human-readable form in seconds and pixels, e.g. {@code 12.40s-20.10s} or {@code
   * [10,20,300,400]px @3.50s}.
   */
  public String describe() {
    return describe(value);
  }

  static String describe(CoordinateValue v) {
    if (v instanceof Timestamp t) {
      return String.format(java.util.Locale.ROOT, "%.2fs", t.seconds());
    } else if (v instanceof Span s) {
      return String.format(
          java.util.Locale.ROOT, "%.2fs-%.2fs", s.start().seconds(), s.end().seconds());
    } else if (v instanceof Box b) {
      return String.format(
          java.util.Locale.ROOT,
          "[%.0f,%.0f,%.0f,%.0f]px",
          b.x1().px(),
          b.y1().px(),
          b.x2().px(),
          b.y2().px());
    } else if (v instanceof TimedBox tb) {
      return describe(tb.box()) + " @" + describe(tb.time());
    }
    throw new IllegalArgumentException("unknown coordinate value " + v);
  }
}

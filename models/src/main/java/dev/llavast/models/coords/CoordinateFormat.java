package dev.llavast.models.coords;

import java.util.List;
import java.util.Locale;

/**
 * Human-readable rendering of parsed pieces, in the style of the README figures: timestamps in
 * seconds ({@code 3.3s}; normalized to 3 decimals when the media has no time axis), spans {@code
 * 36.1s - 43.3s}, boxes as normalized {@code [0.424,0.393,0.545,0.737]}, timed boxes {@code 3.3s:
 * [..]}; a stray bin keeps its token form ({@code <HEIGHT-002>}). Stateless; any thread.
 */
public final class CoordinateFormat {
  private CoordinateFormat() {}

  /** The display text of one piece. */
  public static String render(Piece piece) {
    if (piece instanceof Piece.Text t) {
      return t.text();
    } else if (piece instanceof Timestamp ts) {
      return time(ts);
    } else if (piece instanceof Span s) {
      return time(s.start()) + " - " + time(s.end());
    } else if (piece instanceof Box b) {
      return box(b);
    } else if (piece instanceof TimedBox tb) {
      return time(tb.time()) + ": " + box(tb.box());
    } else if (piece instanceof Piece.Bin bin) {
      String name =
          switch (bin.axis()) {
            case TIME -> "TEMP";
            case HEIGHT -> "HEIGHT";
            case WIDTH -> "WIDTH";
          };
      return String.format(Locale.ROOT, "<%s-%03d>", name, bin.bin());
    }
    throw new IllegalArgumentException("unknown piece " + piece);
  }

  /** The display text of a whole answer. */
  public static String render(List<? extends Piece> pieces) {
    StringBuilder sb = new StringBuilder();
    for (Piece p : pieces) {
      sb.append(render(p));
    }
    return sb.toString();
  }

  private static String time(Timestamp ts) {
    if (Double.isNaN(ts.seconds())) {
      return String.format(Locale.ROOT, "%.3f", ts.normalized());
    }
    return trim(String.format(Locale.ROOT, "%.2f", ts.seconds())) + "s";
  }

  private static String box(Box b) {
    return String.format(
        Locale.ROOT,
        "[%.3f,%.3f,%.3f,%.3f]",
        b.x1().normalized(),
        b.y1().normalized(),
        b.x2().normalized(),
        b.y2().normalized());
  }

  /** "3.30" -> "3.3", "5.00" -> "5". */
  private static String trim(String s) {
    if (s.indexOf('.') < 0) {
      return s;
    }
    int end = s.length();
    while (s.charAt(end - 1) == '0') {
      end--;
    }
    if (s.charAt(end - 1) == '.') {
      end--;
    }
    return s.substring(0, end);
  }
}

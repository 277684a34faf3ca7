package dev.llavast.server.http;

import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.server.generation.AnswerCoordinate;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text of an answer as an OpenAI client reads it: coordinate tokens ({@code <TEMP-012>}) become
 * numbers. Two styles:
 *
 * <ul>
 *   <li>normalized, as the LLaVA-ST evaluation normalises answers: every bin becomes {@code
 *       k/(bins-1)} with five decimals and a comma, then {@code ",]"} and {@code ",}"} lose the
 *       comma ({@code {0.03030,0.40404}}, {@code [0.10101,0.20202,0.50505,0.80808]});
 *   <li>seconds and pixels: {@code 12.4s}, {@code {12.4s, 15s}}, {@code [65,73,323,291]}, {@code
 *       3.3s: [..]}, from the structured groups.
 * </ul>
 *
 * Text arrives in pieces that never split a group, so each piece is rendered on its own. One
 * instance per answer; not thread-safe (the answer's deltas come one at a time).
 */
final class CoordinateText {
  private static final Pattern BIN = Pattern.compile("<(TEMP|HEIGHT|WIDTH)-(\\d{3})>");

  private final boolean seconds;
  private final int bins;

  /**
   * UTF-8 bytes of answer text before the next piece (group offsets count from the answer's start).
   */
  private long bytesBefore;

  CoordinateText(boolean seconds, int bins) {
    this.seconds = seconds;
    this.bins = bins;
  }

  /** The next piece of the answer's text, with the groups it completes. */
  String render(String text, List<AnswerCoordinate> groups) {
    String out = seconds ? secondsStyle(text, groups) : normalizedStyle(text);
    bytesBefore += text.getBytes(StandardCharsets.UTF_8).length;
    return out;
  }

  private String normalizedStyle(String text) {
    Matcher m = BIN.matcher(text);
    StringBuilder sb = new StringBuilder(text.length());
    while (m.find()) {
      double v = Integer.parseInt(m.group(2)) / (double) (bins - 1);
      m.appendReplacement(sb, String.format(Locale.ROOT, "%.5f,", v));
    }
    m.appendTail(sb);
    return sb.toString().replace(",]", "]").replace(",}", "}");
  }

  private String secondsStyle(String text, List<AnswerCoordinate> groups) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    StringBuilder sb = new StringBuilder(text.length());
    int at = 0; // chars of text consumed
    for (AnswerCoordinate g : groups) {
      int startByte = (int) (g.textOffsetBytes() - bytesBefore);
      if (startByte < 0 || startByte > utf8.length) {
        continue; // not in this piece (cannot happen: pieces never split a group)
      }
      int start = new String(utf8, 0, startByte, StandardCharsets.UTF_8).length();
      int end = end(text, start, g.group());
      if (start < at || end < 0) {
        continue;
      }
      sb.append(text, at, start).append(render(g.group()));
      at = end;
    }
    return sb.append(text, at, text.length()).toString();
  }

  /**
   * Where the literal text of {@code p} starting at {@code start} ends, or -1 if it is not there.
   */
  private static int end(String text, int start, Piece p) {
    if (p instanceof Span) {
      int i = text.indexOf('}', start);
      return i < 0 ? -1 : i + 1;
    }
    if (p instanceof Box || p instanceof TimedBox) {
      int i = text.indexOf(']', start);
      return i < 0 ? -1 : i + 1;
    }
    Matcher m = BIN.matcher(text);
    return m.find(start) && m.start() == start ? m.end() : -1;
  }

  private static String render(Piece p) {
    if (p instanceof Timestamp t) {
      return time(t);
    }
    if (p instanceof Span s) {
      return "{" + time(s.start()) + ", " + time(s.end()) + "}";
    }
    if (p instanceof Box b) {
      return box(b);
    }
    if (p instanceof TimedBox tb) {
      return time(tb.time()) + ": " + box(tb.box());
    }
    if (p instanceof Piece.Bin b) {
      return String.format(Locale.ROOT, "%.5f", b.normalized());
    }
    throw new IllegalArgumentException("not a coordinate: " + p);
  }

  private static String time(Timestamp t) {
    if (Double.isNaN(t.seconds())) {
      return String.format(Locale.ROOT, "%.5f", t.normalized());
    }
    String s = String.format(Locale.ROOT, "%.2f", t.seconds());
    s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
    return s + "s";
  }

  private static String box(Box b) {
    return String.format(
        Locale.ROOT,
        "[%d,%d,%d,%d]",
        Math.round(b.x1().pixels()),
        Math.round(b.y1().pixels()),
        Math.round(b.x2().pixels()),
        Math.round(b.y2().pixels()));
  }
}

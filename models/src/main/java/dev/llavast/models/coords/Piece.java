package dev.llavast.models.coords;

/**
 * One unit of a parsed answer, emitted whole by {@link CoordinateStreamParser}: plain text, a
 * coordinate bin that belongs to no group, or a complete group (timestamp, span, box, timed box).
 */
public sealed interface Piece permits Piece.Text, Piece.Bin, Timestamp, Span, Box, TimedBox {

  /**
   * Plain text between groups (possibly a <code>{</code> or <code>[</code> that opened no group).
   */
  record Text(String text) implements Piece {}

  /** A HEIGHT or WIDTH bin outside a box (a malformed answer). */
  record Bin(Axis axis, int bin, double normalized) implements Piece {}
}

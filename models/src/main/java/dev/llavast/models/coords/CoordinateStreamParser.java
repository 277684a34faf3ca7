package dev.llavast.models.coords;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Turns a generated answer, fed one token at a time, into text and whole coordinate groups (spec
 * §10):
 *
 * <ul>
 *   <li>timestamp: {@code T}
 *   <li>span: <code>{ T T }</code>
 *   <li>box: {@code [ W H W H ]}
 *   <li>timed box: {@code T : [ W H W H ]}
 * </ul>
 *
 * where {@code T}, {@code H}, {@code W} are coordinate ids and the brackets, braces and colon come
 * from the detokenized text of ordinary tokens (a piece may hold several characters, e.g. {@code "
 * ["} or {@code "],"}). Inside a group, whitespace and commas between elements are allowed and
 * dropped.
 *
 * <p>A group is emitted exactly once, whole, in the call that feeds its last symbol (a timestamp,
 * which may still grow into a timed box, in the call that feeds the next non-blank symbol, or in
 * {@link #finish()}). Text that cannot start a group is emitted at once. A sequence that breaks a
 * group never throws: the longest complete group at its start is emitted (or its first symbol as
 * plain text or a plain {@link Piece.Bin}) and the rest is parsed again.
 *
 * <p>Not thread-safe: one generation stream owns one parser.
 */
public final class CoordinateStreamParser {
  /**
   * Most symbols held while a group is open; beyond it the group is abandoned (e.g. endless
   * blanks).
   */
  static final int MAX_HELD = 64;

  private enum Mode {
    IDLE,
    SPAN,
    BOX,
    AFTER_TIME,
    AFTER_COLON,
    TIMED_BOX
  }

  /** A symbol: a character of text ({@code bin < 0}) or a coordinate bin. */
  private record Sym(char ch, @Nullable Axis axis, int bin) {
    static Sym of(char c) {
      return new Sym(c, null, -1);
    }

    boolean isBin() {
      return axis != null;
    }

    Axis binAxis() {
      if (axis == null) {
        throw new IllegalStateException("'" + ch + "' is not a bin");
      }
      return axis;
    }

    boolean is(char c) {
      return axis == null && ch == c;
    }

    boolean isBlank() {
      return axis == null && Character.isWhitespace(ch);
    }

    boolean isSeparator() {
      return isBlank() || is(',');
    }
  }

  private final CoordinateCodec codec;
  private final @Nullable TimeAxis time;
  private final SpaceAxis space;
  private final ArrayList<Sym> held = new ArrayList<>();
  private Mode mode = Mode.IDLE;
  private int count;
  private final StringBuilder text = new StringBuilder();

  /** The current call's pieces; an immutable empty list between calls. */
  private List<Piece> out = List.of();

  CoordinateStreamParser(CoordinateCodec codec, @Nullable TimeAxis time, SpaceAxis space) {
    this.codec = codec;
    this.time = time;
    this.space = space;
  }

  /**
   * Feeds one generated token: a coordinate id (its text is ignored) or an ordinary token with its
   * detokenized text piece.
   *
   * @return the pieces completed by this token, in order; often empty
   */
  public List<Piece> onToken(int tokenId, String textPiece) {
    if (codec.isBin(tokenId)) {
      return onBin(tokenId);
    }
    return onText(textPiece);
  }

  /** Feeds the text of ordinary tokens. */
  public List<Piece> onText(String piece) {
    begin();
    if (piece != null) {
      for (int i = 0; i < piece.length(); i++) {
        feed(Sym.of(piece.charAt(i)));
      }
    }
    return end();
  }

  /** Feeds one coordinate id. */
  public List<Piece> onBin(int tokenId) {
    begin();
    feed(new Sym('\0', codec.axisOf(tokenId), codec.binOf(tokenId)));
    return end();
  }

  /**
   * Whether the parser holds symbols of a group that is not complete yet. A streaming server holds
   * back the text of those symbols too, so that a group's text and its structured value leave in
   * the same message.
   */
  public boolean holding() {
    return !held.isEmpty();
  }

  /**
   * How many of the symbols fed so far the parser holds: always the last ones fed, a text character
   * each, or a coordinate id. A streaming server that knows where each symbol's text begins holds
   * back its text from the first held symbol.
   */
  public int heldSymbols() {
    return held.size();
  }

  /**
   * The end of the answer: emits whatever is held (a pending timestamp, or an unfinished group as
   * text).
   */
  public List<Piece> finish() {
    begin();
    while (!held.isEmpty()) {
      breakGroup(null);
    }
    return end();
  }

  private void begin() {
    out = new ArrayList<>(2);
  }

  private List<Piece> end() {
    flushText();
    List<Piece> r = out;
    out = List.of();
    return r.isEmpty() ? List.of() : List.copyOf(r);
  }

  private void feed(Sym s) {
    if (mode == Mode.IDLE) {
      start(s);
      return;
    }
    if (held.size() >= MAX_HELD) {
      breakGroup(s);
      return;
    }
    switch (mode) {
      case SPAN -> {
        if (s.isSeparator()) {
          held.add(s);
        } else if (count < 2 && s.isBin() && s.axis() == Axis.TIME) {
          held.add(s);
          count++;
        } else if (count == 2 && s.is('}')) {
          held.add(s);
          complete();
        } else {
          breakGroup(s);
        }
      }
      case BOX, TIMED_BOX -> {
        Axis expected = count % 2 == 0 ? Axis.WIDTH : Axis.HEIGHT;
        if (s.isSeparator()) {
          held.add(s);
        } else if (count < 4 && s.isBin() && s.axis() == expected) {
          held.add(s);
          count++;
        } else if (count == 4 && s.is(']')) {
          held.add(s);
          complete();
        } else {
          breakGroup(s);
        }
      }
      case AFTER_TIME -> {
        if (s.isSeparator()) {
          held.add(s);
        } else if (s.is(':')) {
          held.add(s);
          mode = Mode.AFTER_COLON;
        } else {
          breakGroup(s);
        }
      }
      case AFTER_COLON -> {
        if (s.isBlank()) {
          held.add(s);
        } else if (s.is('[')) {
          held.add(s);
          mode = Mode.TIMED_BOX;
          count = 0;
        } else {
          breakGroup(s);
        }
      }
      default -> throw new IllegalStateException("mode " + mode);
    }
  }

  private void start(Sym s) {
    if (s.is('{')) {
      open(s, Mode.SPAN);
    } else if (s.is('[')) {
      open(s, Mode.BOX);
    } else if (s.isBin() && s.axis() == Axis.TIME) {
      open(s, Mode.AFTER_TIME);
    } else if (s.isBin()) {
      flushText();
      out.add(new Piece.Bin(s.binAxis(), s.bin(), codec.normalized(s.bin())));
    } else {
      text.append(s.ch());
    }
  }

  private void open(Sym s, Mode m) {
    held.add(s);
    mode = m;
    count = 0;
  }

  /** The held symbols form a whole span, box or timed box. */
  private void complete() {
    List<Sym> bins = new ArrayList<>(5);
    for (Sym h : held) {
      if (h.isBin()) {
        bins.add(h);
      }
    }
    Piece p =
        switch (mode) {
          case SPAN -> new Span(timestamp(bins.get(0)), timestamp(bins.get(1)));
          case BOX -> box(bins, 0);
          case TIMED_BOX -> new TimedBox(timestamp(bins.get(0)), box(bins, 1));
          default -> throw new IllegalStateException("mode " + mode);
        };
    emit(p);
    held.clear();
    mode = Mode.IDLE;
  }

  /**
   * {@code next} (null at the end) does not continue the open group: emit the longest complete
   * group at the start of the held symbols, or the first held symbol as plain, and parse the rest
   * again.
   */
  private void breakGroup(@Nullable Sym next) {
    List<Sym> rest = new ArrayList<>(held);
    held.clear();
    Mode was = mode;
    mode = Mode.IDLE;
    Sym first = rest.remove(0);
    if (was == Mode.AFTER_TIME || was == Mode.AFTER_COLON || was == Mode.TIMED_BOX) {
      emit(timestamp(first)); // a lone T is a complete timestamp
    } else {
      text.append(first.ch()); // '{' or '[' that opened nothing
    }
    if (next != null) {
      rest.add(next);
    }
    for (Sym r : rest) {
      feed(r);
    }
  }

  private void emit(Piece p) {
    flushText();
    out.add(p);
  }

  private void flushText() {
    if (text.length() > 0) {
      out.add(new Piece.Text(text.toString()));
      text.setLength(0);
    }
  }

  private Timestamp timestamp(Sym s) {
    if (time == null) {
      return new Timestamp(s.bin(), codec.normalized(s.bin()), -1, Double.NaN);
    }
    return time.timestamp(s.bin());
  }

  private Box box(List<Sym> bins, int from) {
    return space.box(
        bins.get(from).bin(),
        bins.get(from + 1).bin(),
        bins.get(from + 2).bin(),
        bins.get(from + 3).bin());
  }
}

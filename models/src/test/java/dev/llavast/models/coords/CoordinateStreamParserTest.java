package dev.llavast.models.coords;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The streaming parser on token streams of every task shape, fed with the text split at every
 * possible boundary (and char by char, and merged), which must never change what is emitted.
 */
class CoordinateStreamParserTest {
  static final int V = 151660;
  static final int TEXT_ID = 42; // any ordinary token
  final CoordinateCodec codec = new CoordinateCodec(V, 100);
  final TimeAxis time = codec.time(0, 829, 25.0);
  final SpaceAxis space = codec.space(640, 480);

  record Tok(int id, String text) {}

  static Tok txt(String s) {
    return new Tok(TEXT_ID, s);
  }

  static Tok t(int k) {
    return new Tok(V + k, "<TEMP-" + k + ">");
  }

  static Tok h(int k) {
    return new Tok(V + 100 + k, "<HEIGHT-" + k + ">");
  }

  static Tok w(int k) {
    return new Tok(V + 200 + k, "<WIDTH-" + k + ">");
  }

  static List<Tok> toks(Tok... ts) {
    return List.of(ts);
  }

  /** Feeds every token and finishes; pieces with adjacent texts merged. */
  List<Piece> parse(List<Tok> tokens) {
    CoordinateStreamParser p = codec.parser(time, space);
    List<Piece> all = new ArrayList<>();
    for (Tok tok : tokens) {
      all.addAll(p.onToken(tok.id(), tok.text()));
    }
    all.addAll(p.finish());
    return merge(all);
  }

  static List<Piece> merge(List<Piece> pieces) {
    List<Piece> out = new ArrayList<>();
    for (Piece p : pieces) {
      if (p instanceof Piece.Text t
          && !out.isEmpty()
          && out.get(out.size() - 1) instanceof Piece.Text prev) {
        out.set(out.size() - 1, new Piece.Text(prev.text() + t.text()));
      } else {
        out.add(p);
      }
    }
    return out;
  }

  /**
   * The same stream re-tokenized: every split of every text token in two, char by char, and merged.
   */
  static List<List<Tok>> variants(List<Tok> tokens) {
    List<List<Tok>> out = new ArrayList<>();
    out.add(tokens);
    for (int i = 0; i < tokens.size(); i++) {
      Tok tok = tokens.get(i);
      if (tok.id() != TEXT_ID) {
        continue;
      }
      for (int cut = 1; cut < tok.text().length(); cut++) {
        List<Tok> v = new ArrayList<>(tokens.subList(0, i));
        v.add(txt(tok.text().substring(0, cut)));
        v.add(txt(tok.text().substring(cut)));
        v.addAll(tokens.subList(i + 1, tokens.size()));
        out.add(v);
      }
    }
    List<Tok> chars = new ArrayList<>();
    List<Tok> merged = new ArrayList<>();
    for (Tok tok : tokens) {
      if (tok.id() == TEXT_ID) {
        tok.text().chars().forEach(c -> chars.add(txt(String.valueOf((char) c))));
        if (!merged.isEmpty() && merged.get(merged.size() - 1).id() == TEXT_ID) {
          merged.set(merged.size() - 1, txt(merged.get(merged.size() - 1).text() + tok.text()));
          continue;
        }
      } else {
        chars.add(tok);
      }
      merged.add(tok);
    }
    out.add(chars);
    out.add(merged);
    return out;
  }

  /** Parses every variant, checks they agree, returns the pieces. */
  List<Piece> parseAllWays(List<Tok> tokens) {
    List<Piece> expected = parse(tokens);
    List<List<Tok>> vs = variants(tokens);
    assertThat(vs.size()).isGreaterThanOrEqualTo(3);
    for (List<Tok> v : vs) {
      assertThat(parse(v)).as("tokenization %s", v).isEqualTo(expected);
    }
    return expected;
  }

  Box box(int x1, int y1, int x2, int y2) {
    return space.box(x1, y1, x2, y2);
  }

  @Test
  void tvgSpan() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("During"),
                txt(" the"),
                txt(" period"),
                txt(" {"),
                t(12),
                t(40),
                txt("}."),
                txt("<|im_end|>")));
    Span span = new Span(time.timestamp(12), time.timestamp(40));
    assertThat(p)
        .containsExactly(new Piece.Text("During the period "), span, new Piece.Text(".<|im_end|>"));
    TaskResult r = TaskResult.of(Task.TVG, p);
    assertThat(r.span()).isEqualTo(span);
    // bin 12 -> frame rint(12/99*829) = rint(100.48) = 100 -> 4.0 s at 25 fps; bin 40 -> 335
    // (334.95) -> 13.4 s
    assertThat(r.span().start().frame()).isEqualTo(100);
    assertThat(r.span().start().seconds()).isCloseTo(4.0, within(1e-12));
    assertThat(r.span().end().frame()).isEqualTo(335);
    assertThat(r.span().end().seconds()).isCloseTo(13.4, within(1e-12));
    assertThat(r.text()).isEqualTo("During the period .<|im_end|>");
  }

  @Test
  void stvgSpanAndTimedBoxes() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("During the span of"),
                txt(" {"),
                t(3),
                t(40),
                txt("}."),
                txt(" Object bounding box:"),
                txt(" "),
                t(3),
                txt(":"),
                txt(" ["),
                w(10),
                h(20),
                w(50),
                h(80),
                txt("],"),
                txt(" "),
                t(5),
                txt(":["),
                w(11),
                h(21),
                w(51),
                h(81),
                txt("]")));
    assertThat(p)
        .containsExactly(
            new Piece.Text("During the span of "),
            new Span(time.timestamp(3), time.timestamp(40)),
            new Piece.Text(". Object bounding box: "),
            new TimedBox(time.timestamp(3), box(10, 20, 50, 80)),
            new Piece.Text(", "),
            new TimedBox(time.timestamp(5), box(11, 21, 51, 81)));
    TaskResult r = TaskResult.of(Task.STVG, p);
    assertThat(r.span().start().bin()).isEqualTo(3);
    assertThat(r.timedBoxes()).hasSize(2);
    assertThat(r.timedBoxes().get(1).time().bin()).isEqualTo(5);
    assertThat(r.timedBoxes().get(1).box().bins()).containsExactly(11, 21, 51, 81);
    assertThat(r.timedBoxes().get(0).box().pixels()[2]).isCloseTo(50 / 99.0 * 640, within(1e-9));
  }

  @Test
  void displayRendering() {
    List<Piece> p =
        parse(
            toks(
                txt("During the span of {"),
                t(3),
                t(40),
                txt("}. Box: "),
                t(3),
                txt(": ["),
                w(10),
                h(20),
                w(50),
                h(80),
                txt("] "),
                h(2)));
    // bin 3 -> frame rint(25.12) = 25 -> 1 s; bin 40 -> frame 335 -> 13.4 s; 10/99 = 0.10101 ->
    // 0.101
    assertThat(CoordinateFormat.render(p))
        .isEqualTo(
            "During the span of 1s - 13.4s. Box: 1s: [0.101,0.202,0.505,0.808] <HEIGHT-002>");
    CoordinateStreamParser img = codec.parser(null, space);
    List<Piece> q = new ArrayList<>(img.onBin(V + 33));
    q.addAll(img.finish());
    assertThat(CoordinateFormat.render(q)).isEqualTo("0.333");
  }

  @Test
  void svgTimedBoxes() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("Object bounding box: "),
                t(33),
                txt(": ["),
                w(42),
                h(39),
                w(54),
                h(73),
                txt("], "),
                t(35),
                txt(":"),
                txt("["),
                w(42),
                h(40),
                w(55),
                h(74),
                txt("]")));
    TaskResult r = TaskResult.of(Task.SVG, p);
    assertThat(r.timedBoxes()).extracting(tb -> tb.time().bin()).containsExactly(33, 35);
    assertThat(r.timedBoxes().get(0).box()).isEqualTo(box(42, 39, 54, 73));
    assertThat(r.span()).isNull();
  }

  @Test
  void elcEndTimeCaptionAndBoxes() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("Ends"),
                txt(" in"),
                txt(" "),
                t(25),
                txt(","),
                txt(" a child in"),
                txt(" orange pushes a toy on the beach."),
                txt(" Object bounding box: "),
                t(19),
                txt(": ["),
                w(17),
                h(38),
                w(53),
                h(82),
                txt("]")));
    assertThat(p.get(1)).isEqualTo(time.timestamp(25));
    TaskResult r = TaskResult.of(Task.ELC, p);
    assertThat(r.endTime().bin()).isEqualTo(25);
    assertThat(r.caption()).isEqualTo("a child in orange pushes a toy on the beach");
    assertThat(r.timedBoxes()).hasSize(1);
    assertThat(r.timedBoxes().get(0).box().bins()).containsExactly(17, 38, 53, 82);
  }

  @Test
  void recFirstBox() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("The location of the catcher is"),
                txt(" ["),
                w(48),
                h(41),
                w(75),
                h(96),
                txt("]"),
                txt(" and ["),
                w(1),
                h(2),
                w(3),
                h(4),
                txt("]")));
    TaskResult r = TaskResult.of(Task.REC, p);
    assertThat(r.box()).isEqualTo(box(48, 41, 75, 96));
    assertThat(r.boxes()).isEmpty();
  }

  @Test
  void dgcAllBoxes() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("A woman"),
                txt(" ["),
                w(43),
                h(0),
                w(86),
                h(99),
                txt("]"),
                txt(" is sitting in a field of green grass ["),
                w(0),
                h(24),
                w(99),
                h(99),
                txt("]."),
                txt("\n")));
    TaskResult r = TaskResult.of(Task.DGC, p);
    assertThat(r.boxes()).containsExactly(box(43, 0, 86, 99), box(0, 24, 99, 99));
    assertThat(r.boxes().get(1).pixels()[3]).isEqualTo(480.0);
    assertThat(r.text()).isEqualTo("A woman  is sitting in a field of green grass .\n");
  }

  @Test
  void dvcSpans() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("{"),
                t(0),
                t(10),
                txt("},"),
                txt(" a man walks. "),
                txt("{"),
                t(11),
                txt(" "),
                t(30),
                txt(" }"),
                txt(", he sits.")));
    TaskResult r = TaskResult.of(Task.DVC, p);
    assertThat(r.spans()).extracting(s -> s.end().bin()).containsExactly(10, 30);
  }

  @Test
  void malformedSequencesYieldPlainBinsAndText() {
    List<Piece> p =
        parseAllWays(
            toks(
                txt("{"),
                t(1),
                h(2),
                txt("} ["),
                w(1),
                w(2),
                h(3),
                h(4),
                txt(" "),
                t(5),
                txt(": x "),
                t(7)));
    assertThat(p)
        .containsExactly(
            new Piece.Text("{"),
            time.timestamp(1),
            new Piece.Bin(Axis.HEIGHT, 2, 2 / 99.0),
            new Piece.Text("} ["),
            new Piece.Bin(Axis.WIDTH, 1, 1 / 99.0),
            new Piece.Bin(Axis.WIDTH, 2, 2 / 99.0),
            new Piece.Bin(Axis.HEIGHT, 3, 3 / 99.0),
            new Piece.Bin(Axis.HEIGHT, 4, 4 / 99.0),
            new Piece.Text(" "),
            time.timestamp(5),
            new Piece.Text(": x "),
            time.timestamp(7));
    // an unfinished box at the end comes back as text and bins, nothing lost
    assertThat(parse(toks(txt("see ["), w(3), h(4))))
        .containsExactly(
            new Piece.Text("see ["),
            new Piece.Bin(Axis.WIDTH, 3, 3 / 99.0),
            new Piece.Bin(Axis.HEIGHT, 4, 4 / 99.0));
  }

  @Test
  void groupsAreEmittedWholeInTheCallThatCompletesThem() {
    CoordinateStreamParser p = codec.parser(time, space);
    assertThat(p.onToken(TEXT_ID, "at [")).containsExactly(new Piece.Text("at "));
    assertThat(p.onToken(V + 201, "")).isEmpty();
    assertThat(p.onToken(V + 102, "")).isEmpty();
    assertThat(p.onToken(V + 203, "")).isEmpty();
    assertThat(p.onToken(V + 104, "")).isEmpty();
    assertThat(p.onToken(TEXT_ID, "], then"))
        .containsExactly(box(1, 2, 3, 4), new Piece.Text(", then"));
    // a timestamp waits for the next non-blank symbol (it could become a timed box)
    assertThat(p.onToken(TEXT_ID, " ")).containsExactly(new Piece.Text(" "));
    assertThat(p.onToken(V + 9, "")).isEmpty();
    assertThat(p.onToken(TEXT_ID, " ")).isEmpty();
    assertThat(p.onToken(TEXT_ID, "ok")).containsExactly(time.timestamp(9), new Piece.Text(" ok"));
    assertThat(p.onToken(V + 8, "")).isEmpty();
    assertThat(p.finish()).containsExactly(time.timestamp(8));
    assertThat(p.finish()).isEmpty();
  }

  @Test
  void imagesHaveNoSecondsAndEndlessBlanksDoNotHoldForever() {
    CoordinateStreamParser p = codec.parser(null, space);
    List<Piece> out = new ArrayList<>(p.onBin(V + 4));
    assertThat(out).isEmpty();
    out.addAll(p.onText(" ".repeat(CoordinateStreamParser.MAX_HELD + 5)));
    assertThat(out.get(0)).isInstanceOf(Timestamp.class);
    Timestamp ts = (Timestamp) out.get(0);
    assertThat(ts.frame()).isEqualTo(-1);
    assertThat(ts.seconds()).isNaN();
  }

  @Test
  void randomStreamsNeverThrowNeverLoseBinsAndDoNotDependOnSplitting() {
    Random rnd = new Random(2026);
    String alphabet = "{}[]:, .a";
    for (int trial = 0; trial < 400; trial++) {
      List<Tok> tokens = new ArrayList<>();
      int bins = 0;
      int len = 1 + rnd.nextInt(30);
      for (int i = 0; i < len; i++) {
        if (rnd.nextInt(3) == 0) {
          tokens.add(new Tok(V + rnd.nextInt(300), ""));
          bins++;
        } else {
          StringBuilder sb = new StringBuilder();
          int n = 1 + rnd.nextInt(3);
          for (int j = 0; j < n; j++) {
            sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
          }
          tokens.add(txt(sb.toString()));
        }
      }
      List<Piece> pieces = parseAllWays(tokens);
      int seen = 0;
      for (Piece piece : pieces) {
        if (piece instanceof Piece.Bin || piece instanceof Timestamp) {
          seen += 1;
        } else if (piece instanceof Span) {
          seen += 2;
        } else if (piece instanceof Box) {
          seen += 4;
        } else if (piece instanceof TimedBox) {
          seen += 5;
        }
      }
      assertThat(seen).as("bins in %s", tokens).isEqualTo(bins);
    }
  }
}

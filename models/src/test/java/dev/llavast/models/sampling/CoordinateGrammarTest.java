package dev.llavast.models.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.scheduler.OutputConstraint;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The automaton against hand-written id sequences over a small vocabulary that has the merged
 * bracket variants a BPE tokenizer produces (" [", ": [", "}.", "],", "[]" ...): the whole allowed
 * set in each state, monotonic values, the length budget, every task shape.
 */
class CoordinateGrammarTest {
  private static final String[] TEXTS = {
    "a",
    " the",
    ",",
    " ",
    ":",
    ": ",
    ":)",
    "{",
    " {",
    "[",
    " [",
    "([",
    ": [",
    "}",
    "}.",
    "]",
    "],",
    "[]",
    "}{",
    "<|im_end|>",
    "box",
    "x:y",
    ".",
    " }",
    ",]"
  };
  private static final int V = TEXTS.length;
  private static final int BINS = 100;
  private static final int STOP = 19;
  private static final int[] STOPS = {STOP};
  private static final Set<Integer> WORDS = Set.of(0, 1, 20, 21, 22);
  private static final Set<Integer> TEXT = union(WORDS, Set.of(2, 3, 4, 5, 6));
  private static final Set<Integer> BOX_OPENERS = Set.of(9, 10, 11, 12);

  private final CoordinateGrammar g = CoordinateGrammar.of(i -> TEXTS[i], V, BINS, i -> i == STOP);

  private static int t(int k) {
    return V + k;
  }

  private static int h(int k) {
    return V + BINS + k;
  }

  private static int w(int k) {
    return V + 2 * BINS + k;
  }

  private static Set<Integer> range(int from, int to) {
    Set<Integer> s = new TreeSet<>();
    IntStream.range(from, to).forEach(s::add);
    return s;
  }

  @SafeVarargs
  private static Set<Integer> union(Set<Integer>... sets) {
    Set<Integer> s = new TreeSet<>();
    for (Set<Integer> x : sets) {
      s.addAll(x);
    }
    return s;
  }

  private static Set<Integer> allowed(TokenMask m) {
    Set<Integer> s = new TreeSet<>();
    for (int id = 0; id < V + 3 * BINS; id++) {
      if (m.allows(id)) {
        s.add(id);
      }
    }
    assertThat(m.count()).as("count of %s", s).isEqualTo(s.size());
    return s;
  }

  private Set<Integer> next(OutputConstraint c, int maxNew, int... generated) {
    return allowed(g.mask(c, generated, maxNew, STOPS));
  }

  private static OutputConstraint coords(boolean video) {
    return new OutputConstraint(OutputConstraint.Kind.COORDINATES, "FREE_FORM", video);
  }

  private static OutputConstraint shape(String task) {
    return new OutputConstraint(OutputConstraint.Kind.TASK_SHAPE, task, true);
  }

  @Test
  void tokensAreClassifiedByWhereTheirBracketStands() {
    int[] expected = {
      CoordinateGrammar.WORD,
      CoordinateGrammar.WORD,
      CoordinateGrammar.SEP,
      CoordinateGrammar.SEP,
      CoordinateGrammar.COLON,
      CoordinateGrammar.COLON,
      CoordinateGrammar.COLON_TEXT,
      CoordinateGrammar.OPEN_SPAN,
      CoordinateGrammar.OPEN_SPAN,
      CoordinateGrammar.OPEN_BOX_BARE,
      CoordinateGrammar.OPEN_BOX_BARE,
      CoordinateGrammar.OPEN_BOX,
      CoordinateGrammar.COLON_OPEN_BOX,
      CoordinateGrammar.CLOSE_SPAN,
      CoordinateGrammar.CLOSE_SPAN,
      CoordinateGrammar.CLOSE_BOX,
      CoordinateGrammar.CLOSE_BOX,
      CoordinateGrammar.BROKEN,
      CoordinateGrammar.BROKEN,
      CoordinateGrammar.SPECIAL,
      CoordinateGrammar.WORD,
      CoordinateGrammar.WORD,
      CoordinateGrammar.WORD,
      CoordinateGrammar.CLOSE_SPAN,
      CoordinateGrammar.CLOSE_BOX
    };
    int[] actual = IntStream.range(0, V).map(g::classOf).toArray();
    assertThat(actual).isEqualTo(expected);
    assertThat(g.pairCost()).isEqualTo(7); // ": [" exists, so T ": [" W H W H "]"
  }

  @Test
  void outsideAGroupOnAVideoTextOpenersTimeValuesAndTheStopAreAllowedButNoSpaceValue() {
    assertThat(next(coords(true), 100))
        .isEqualTo(union(TEXT, Set.of(7, 8), BOX_OPENERS, range(t(0), t(100)), Set.of(STOP)));
  }

  @Test
  void onAnImageNoTimeValueAndNoSpanMayStart() {
    assertThat(next(coords(false), 100)).isEqualTo(union(TEXT, BOX_OPENERS, Set.of(STOP)));
  }

  @Test
  void aSpanTakesTwoTimesTheSecondNotBeforeTheFirstThenAnyClosingVariant() {
    OutputConstraint c = coords(true);
    assertThat(next(c, 100, 0, 8)).isEqualTo(range(t(0), t(100)));
    assertThat(next(c, 100, 0, 8, t(40))).isEqualTo(range(t(40), t(100)));
    assertThat(next(c, 100, 0, 8, t(40), t(41))).isEqualTo(Set.of(13, 14, 23));
    // closed with "}.": outside again
    assertThat(next(c, 100, 0, 8, t(40), t(41), 14))
        .contains(0, 7, 9, STOP)
        .doesNotContain(13, w(0));
  }

  @Test
  void aBoxTakesWidthHeightWidthHeightWithTheCornersOrderedThenAnyClosingVariant() {
    OutputConstraint c = coords(false);
    assertThat(next(c, 100, 11)).isEqualTo(range(w(0), w(100)));
    assertThat(next(c, 100, 11, w(30))).isEqualTo(range(h(0), h(100)));
    assertThat(next(c, 100, 11, w(30), h(60))).isEqualTo(range(w(30), w(100)));
    assertThat(next(c, 100, 11, w(30), h(60), w(99))).isEqualTo(range(h(60), h(100)));
    assertThat(next(c, 100, 11, w(30), h(60), w(99), h(60))).isEqualTo(Set.of(15, 16, 24));
  }

  @Test
  void aTimeValueOutsideAGroupStartsATimedBoxThroughAColonAndABareBracket() {
    OutputConstraint c = coords(true);
    assertThat(next(c, 100, 20, 4, t(7))).isEqualTo(Set.of(4, 5, 12));
    assertThat(next(c, 100, 20, 4, t(7), 5)).isEqualTo(Set.of(9, 10));
    assertThat(next(c, 100, 20, 4, t(7), 12)).isEqualTo(range(w(0), w(100)));
    assertThat(next(c, 100, 20, 4, t(7), 5, 10, w(1), h(2), w(3), h(4)))
        .isEqualTo(Set.of(15, 16, 24));
  }

  @Test
  void aGroupStartsOnlyIfItCanCloseWithinTheTokenLimit() {
    OutputConstraint c = coords(true);
    // 7 tokens left: everything; 6: no timed box; 4: no box; 3: no group at all.
    assertThat(next(c, 7)).containsAll(BOX_OPENERS).contains(7, t(0));
    assertThat(next(c, 6)).containsAll(BOX_OPENERS).contains(7).doesNotContain(t(0));
    assertThat(next(c, 5)).contains(7).doesNotContainAnyElementsOf(BOX_OPENERS);
    assertThat(next(c, 4)).contains(7);
    assertThat(next(c, 3)).isEqualTo(union(TEXT, Set.of(STOP)));
    // A timed box with 6 left after its T: only the one-token ": [" fits.
    assertThat(next(c, 7, t(3))).isEqualTo(Set.of(12));
  }

  @Test
  void tvgHasExactlyOneSpanAndCannotEndBeforeIt() {
    OutputConstraint c = shape("TVG");
    assertThat(next(c, 50)).isEqualTo(union(TEXT, Set.of(7, 8)));
    assertThat(next(c, 6, 1, 1)).isEqualTo(Set.of(7, 8)); // 4 tokens left: only the span still fits
    assertThat(next(c, 50, 1, 8, t(2), t(9), 13)).isEqualTo(union(TEXT, Set.of(STOP)));
  }

  @Test
  void recHasExactlyOneBox() {
    OutputConstraint c = new OutputConstraint(OutputConstraint.Kind.TASK_SHAPE, "REC", false);
    assertThat(next(c, 50)).isEqualTo(union(TEXT, BOX_OPENERS));
    assertThat(next(c, 50, 10, w(1), h(2), w(3), h(4), 15)).isEqualTo(union(TEXT, Set.of(STOP)));
  }

  @Test
  void dgcHasOneBoxOrMoreAndDvcOneSpanOrMore() {
    OutputConstraint dgc = new OutputConstraint(OutputConstraint.Kind.TASK_SHAPE, "DGC", false);
    assertThat(next(dgc, 50, 10, w(1), h(2), w(3), h(4), 15))
        .isEqualTo(union(TEXT, BOX_OPENERS, Set.of(STOP)));
    assertThat(next(shape("DVC"), 50, 7, t(1), t(2), 13))
        .isEqualTo(union(TEXT, Set.of(7, 8), Set.of(STOP)));
  }

  @Test
  void stvgTimedBoxesLieInsideItsSpan() {
    OutputConstraint c = shape("STVG");
    assertThat(next(c, 50)).isEqualTo(union(TEXT, Set.of(7, 8)));
    int[] afterSpan = {8, t(20), t(30), 14, 20, 4};
    assertThat(next(c, 50, afterSpan))
        .isEqualTo(union(TEXT, range(t(20), t(31)))); // no stop before a box
    int[] afterPair = concat(afterSpan, t(25), 12, w(1), h(2), w(3), h(4), 15);
    assertThat(next(c, 50, afterPair)).isEqualTo(union(TEXT, range(t(20), t(31)), Set.of(STOP)));
    // A span needs room for itself and one timed box: 4 + 7.
    assertThat(next(c, 11)).isEqualTo(Set.of(7, 8));
    assertThatThrownBy(() -> g.mask(c, new int[0], 10, STOPS)).hasMessageContaining("at least 11");
  }

  @Test
  void svgIsTimedBoxesOnly() {
    assertThat(next(shape("SVG"), 50)).isEqualTo(union(TEXT, range(t(0), t(100))));
  }

  @Test
  void elcHasAnEndTimeThenTextThenTimedBoxes() {
    OutputConstraint c = shape("ELC");
    assertThat(next(c, 50, 1)).isEqualTo(union(TEXT, range(t(0), t(100))));
    // After "Ends in T": text that is not a colon (a colon would make it a timed box).
    assertThat(next(c, 50, 1, t(60))).isEqualTo(union(WORDS, Set.of(2, 3)));
    assertThat(next(c, 50, 1, t(60), 2)).isEqualTo(union(WORDS, Set.of(2, 3)));
    assertThat(next(c, 50, 1, t(60), 2, 0)).isEqualTo(union(TEXT, range(t(0), t(100))));
    assertThat(next(c, 50, 1, t(60), 0, t(5), 12, w(1), h(2), w(3), h(4), 15))
        .isEqualTo(union(TEXT, range(t(0), t(100)), Set.of(STOP)));
  }

  @Test
  void regAndTrAnswersHaveNoCoordinates() {
    assertThat(next(shape("TR"), 50)).isEqualTo(union(TEXT, Set.of(STOP)));
  }

  @Test
  void shapesThatCannotBeHonouredAreRefusedInWords() {
    assertThat(g.refusal(coords(false), 1)).isNull();
    assertThat(g.refusal(shape("FREE_FORM"), 100)).contains("needs a task");
    assertThat(g.refusal(new OutputConstraint(OutputConstraint.Kind.TASK_SHAPE, "TVG", false), 100))
        .contains("needs a video");
    assertThat(g.refusal(new OutputConstraint(OutputConstraint.Kind.TASK_SHAPE, "REC", true), 100))
        .isNull();
    assertThat(g.refusal(shape("TVG"), 3)).contains("at least 4");
    assertThat(g.refusal(shape("NOPE"), 100)).contains("not a task");
  }

  @Test
  void oneAllowedIdIsForcedAndTheMaskKeepsOnlyAllowedLogits() {
    CoordinateGrammar single =
        CoordinateGrammar.of(i -> new String[] {"a", "[", "]"}[i], 3, 4, i -> false);
    OutputConstraint c = coords(false);
    int v = 3;
    TokenMask m = single.mask(c, new int[] {1, v + 8, v + 4, v + 8, v + 4}, 20, new int[0]);
    assertThat(m.count()).isEqualTo(1);
    assertThat(m.single()).isEqualTo(2);
    TokenMask widths = single.mask(c, new int[] {1, v + 9, v + 5}, 20, new int[0]);
    float[] logits = new float[v + 12];
    Arrays.fill(logits, 1f);
    float[] x = widths.apply(logits, 0, logits.length);
    List<Integer> finite = new ArrayList<>();
    for (int i = 0; i < x.length; i++) {
      if (x[i] != Float.NEGATIVE_INFINITY) {
        finite.add(i);
      }
    }
    assertThat(finite).containsExactly(v + 9, v + 10, v + 11); // W >= x1 = 1
  }

  private static int[] concat(int[] a, int... b) {
    int[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}

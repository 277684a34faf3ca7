package dev.llavast.models.sampling;

import dev.llavast.models.coords.Task;
import dev.llavast.models.tokenizer.SpecialTokens;
import dev.llavast.scheduler.OutputConstraint;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;
import org.jspecify.annotations.Nullable;

/**
 * Coordinate-constrained decoding for LLaVA-ST (spec §10): from the ids a sequence generated so
 * far, the ids it may generate next, so that every coordinate group it produces is whole and valid.
 *
 * <p>Groups: span <code>{ T T }</code> with end &ge; start; box {@code [ W H W H ]} with x2 &ge; x1
 * and y2 &ge; y1; timed box {@code T : [ W H W H ]}; and, for ELC only, the bare end time "Ends in
 * T". A coordinate id is never allowed outside a group. Brackets and colons are ordinary tokens,
 * found by their text: every token whose text <i>ends</i> with an opening bracket (after text
 * without brackets, e.g. <code>" ["</code>, <code>"({"</code>) opens a group, every token whose
 * text <i>starts</i> with the closing bracket, after blanks or commas (e.g. <code>"}."</code>,
 * <code>"],"</code>, <code>" }"</code>) closes one, and tokens that hold a bracket anywhere else
 * (e.g. <code>"[]"</code>, <code>"}{"</code>) are never allowed under a constraint. A group is
 * opened only if it can close within {@code max_new_tokens}; a task shape also reserves room for
 * the groups it still requires, and does not let the answer end before they are there.
 *
 * <p>Task shapes: TVG exactly one span; REC exactly one box; DGC one box or more; DVC one span or
 * more; STVG one span, then one timed box or more whose times lie inside it; SVG one timed box or
 * more; ELC an end time, then text, then one timed box or more; REG and TR no coordinates.
 *
 * <p>The state is replayed from the generated ids at each step (a few operations per id), so
 * nothing is kept per sequence and preemption needs no care. Immutable after construction (the
 * range cache fills lazily and safely); any thread.
 */
public final class CoordinateGrammar {
  // Classes of ordinary tokens, by their text.
  static final int WORD = 0; // no bracket, first non-separator character is not ':'
  static final int SEP = 1; // only whitespace and commas
  static final int COLON_TEXT =
      2; // no bracket, starts (after separators) with ':' and goes on with text
  static final int COLON = 3; // separators, ':', whitespace
  static final int OPEN_SPAN = 4; // text without brackets, then '{'
  static final int OPEN_BOX_BARE = 5; // whitespace, then '['
  static final int OPEN_BOX = 6; // other text without brackets, then '['
  static final int COLON_OPEN_BOX = 7; // separators, ':', whitespace, '['
  static final int CLOSE_SPAN = 8; // separators, '}', then text without brackets
  static final int CLOSE_BOX = 9; // separators, ']', then text without brackets
  static final int BROKEN = 10; // a bracket anywhere else: never allowed
  static final int SPECIAL = 11; // control tokens, markers, value slots, empty text: never allowed
  private static final int CLASSES = 12;

  private static final int TEXT_CLASSES = bit(WORD) | bit(SEP) | bit(COLON_TEXT) | bit(COLON);
  private static final int BOX_OPENERS = bit(OPEN_BOX) | bit(OPEN_BOX_BARE) | bit(COLON_OPEN_BOX);
  private static final int SPAN_COST = 4;
  private static final int BOX_COST = 6;

  private final byte[] classOf;
  private final int textVocab;
  private final int bins;
  private final int firstTemp;
  private final int firstHeight;
  private final int firstWidth;

  /**
   * Tokens of a timed box: T, then ": [" (one token) or ":" and "[" (two), then four values and
   * "]".
   */
  private final int pairCost;

  private final AtomicReferenceArray<int[]> rangesByClasses =
      new AtomicReferenceArray<>(1 << CLASSES);

  private CoordinateGrammar(byte[] classOf, int bins) {
    this.classOf = classOf;
    this.textVocab = classOf.length;
    this.bins = bins;
    this.firstTemp = textVocab;
    this.firstHeight = textVocab + bins;
    this.firstWidth = textVocab + 2 * bins;
    boolean oneToken = false;
    for (byte c : classOf) {
      oneToken |= c == COLON_OPEN_BOX;
    }
    this.pairCost = 1 + (oneToken ? 1 : 2) + 4 + 1;
  }

  /** The grammar of a LLaVA-ST tokenizer: every ordinary id below V classified by its text. */
  public static CoordinateGrammar of(IntFunction<String> textOf, SpecialTokens special) {
    return of(
        textOf,
        special.vocabSize(),
        special.bins(),
        id -> special.isControl(id) || special.isValueSlot(id));
  }

  /**
   * A grammar over {@code textVocab} ordinary ids followed by {@code 3 * bins} coordinate ids
   * (TEMP, HEIGHT, WIDTH).
   *
   * @param special ids never to generate under a constraint (stop ids are allowed separately)
   */
  static CoordinateGrammar of(
      IntFunction<String> textOf, int textVocab, int bins, IntPredicate special) {
    byte[] classOf = new byte[textVocab];
    for (int id = 0; id < textVocab; id++) {
      classOf[id] = (byte) (special.test(id) ? SPECIAL : classify(textOf.apply(id)));
    }
    return new CoordinateGrammar(classOf, bins);
  }

  /** The class of an ordinary token's text. */
  static int classify(String t) {
    if (t == null || t.isEmpty()) {
      return SPECIAL;
    }
    int brackets = 0;
    int at = -1;
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      if (c == '{' || c == '}' || c == '[' || c == ']') {
        brackets++;
        at = i;
      }
    }
    if (brackets == 0) {
      int i = skipSeparators(t, 0);
      if (i == t.length()) {
        return SEP;
      }
      if (t.charAt(i) != ':') {
        return WORD;
      }
      return t.substring(i + 1).isBlank() ? COLON : COLON_TEXT;
    }
    if (brackets > 1) {
      return BROKEN;
    }
    char b = t.charAt(at);
    boolean last = at == t.length() - 1;
    if (b == '{' && last) {
      return OPEN_SPAN;
    }
    if (b == '[' && last) {
      String before = t.substring(0, at);
      if (before.isBlank()) {
        return OPEN_BOX_BARE;
      }
      int i = skipSeparators(before, 0);
      if (i < before.length() && before.charAt(i) == ':' && before.substring(i + 1).isBlank()) {
        return COLON_OPEN_BOX;
      }
      return OPEN_BOX;
    }
    boolean afterSeparators =
        skipSeparators(t, 0) == at; // a group may hold blanks and commas before it closes
    if (afterSeparators && b == '}') {
      return CLOSE_SPAN;
    }
    if (afterSeparators && b == ']') {
      return CLOSE_BOX;
    }
    return BROKEN;
  }

  private static int skipSeparators(String t, int from) {
    int i = from;
    while (i < t.length() && (Character.isWhitespace(t.charAt(i)) || t.charAt(i) == ',')) {
      i++;
    }
    return i;
  }

  private static int bit(int cls) {
    return 1 << cls;
  }

  /** The class of ordinary id {@code id} (for tests). */
  int classOf(int id) {
    return classOf[id];
  }

  /** Tokens a timed box takes at the least with this tokenizer. */
  int pairCost() {
    return pairCost;
  }

  // ------------------------------------------------------------------------------ shapes

  /** What the answer must still contain; the phase of a constrained answer outside any group. */
  private enum Phase {
    /** Coordinates mode: any group the media allows, any number. */
    ANY,
    NEED_SPAN,
    MORE_SPANS,
    NEED_BOX,
    MORE_BOXES,
    NEED_PAIR,
    MORE_PAIRS,
    NEED_END,
    /** The shape is complete: text only. */
    DONE
  }

  /** Where a replay stands inside a group. */
  private enum Group {
    NONE,
    SPAN_START,
    SPAN_END,
    SPAN_CLOSE,
    BOX_X1,
    BOX_Y1,
    BOX_X2,
    BOX_Y2,
    BOX_CLOSE,
    PAIR_COLON,
    PAIR_BRACKET,
    AFTER_END
  }

  private static boolean videoOnly(Task t) {
    return switch (t) {
      case TVG, TR, STVG, SVG, ELC, DVC -> true;
      default -> false;
    };
  }

  private static Phase firstPhase(OutputConstraint c) {
    if (c.kind() != OutputConstraint.Kind.TASK_SHAPE) {
      return Phase.ANY;
    }
    return switch (Task.valueOf(c.task())) {
      case TVG, STVG, DVC -> Phase.NEED_SPAN;
      case REC, DGC -> Phase.NEED_BOX;
      case SVG -> Phase.NEED_PAIR;
      case ELC -> Phase.NEED_END;
      case REG, TR -> Phase.DONE;
      case FREE_FORM -> throw new IllegalArgumentException("a task shape needs a task");
    };
  }

  /** Tokens the rest of the shape needs at the least, from {@code p} outside a group. */
  private int need(Phase p, Task task) {
    return switch (p) {
      case NEED_SPAN -> SPAN_COST + (task == Task.STVG ? pairCost : 0);
      case NEED_BOX -> BOX_COST;
      case NEED_PAIR -> pairCost;
      case NEED_END -> 2 + pairCost;
      default -> 0;
    };
  }

  /**
   * Why {@code c} cannot be honoured for an answer of at most {@code maxNewTokens}, in words for
   * the caller; null if it can.
   */
  public @Nullable String refusal(OutputConstraint c, int maxNewTokens) {
    if (c.kind() != OutputConstraint.Kind.TASK_SHAPE) {
      return null;
    }
    Task task;
    try {
      task = Task.valueOf(c.task());
    } catch (IllegalArgumentException e) {
      return "'" + c.task() + "' is not a task with an answer shape";
    }
    if (task == Task.FREE_FORM) {
      return "a task shape needs a task; FREE_FORM has no answer shape";
    }
    if (!c.timeAxis() && videoOnly(task)) {
      return "the " + task + " answer shape needs a video; the media is an image";
    }
    int min = need(firstPhase(c), task);
    if (maxNewTokens < min) {
      return "the "
          + task
          + " answer shape needs at least "
          + min
          + " new tokens, max_new_tokens is "
          + maxNewTokens;
    }
    return null;
  }

  // ------------------------------------------------------------------------------ masks

  /**
   * The ids allowed after {@code generated}, or null when {@code c} constrains nothing.
   *
   * @param maxNewTokens the request's limit; {@code maxNewTokens - generated.length} tokens remain,
   *     this one included
   * @param stopIds ids that end the answer; allowed wherever the shape is complete and no group is
   *     open
   * @throws IllegalArgumentException if {@link #refusal} would refuse {@code c}
   */
  public @Nullable TokenMask mask(
      OutputConstraint c, int[] generated, int maxNewTokens, int[] stopIds) {
    if (c.isNone()) {
      return null;
    }
    String why = refusal(c, maxNewTokens);
    if (why != null) {
      throw new IllegalArgumentException(why);
    }
    Task task =
        c.kind() == OutputConstraint.Kind.TASK_SHAPE ? Task.valueOf(c.task()) : Task.FREE_FORM;
    Replay r = new Replay(firstPhase(c), task, c.timeAxis());
    for (int id : generated) {
      r.feed(id);
    }
    return r.allowed(Math.max(1, maxNewTokens - generated.length), stopIds);
  }

  /** One answer's grammar state, rebuilt from its ids. */
  private final class Replay {
    private final Task task;
    private final boolean video;
    private Phase phase;
    private Group group = Group.NONE;

    /** The open span's start bin, and the open box's x1 and y1 bins. */
    private int start;

    private int x1;
    private int y1;

    /** The first span's bins (STVG's timed boxes must lie inside it); -1 before it closes. */
    private int firstSpanStart = -1;

    private int firstSpanEnd = -1;
    private int end;

    Replay(Phase phase, Task task, boolean video) {
      this.phase = phase;
      this.task = task;
      this.video = video;
    }

    private boolean isTime(int id) {
      return id >= firstTemp && id < firstTemp + bins;
    }

    private boolean isHeight(int id) {
      return id >= firstHeight && id < firstHeight + bins;
    }

    private boolean isWidth(int id) {
      return id >= firstWidth && id < firstWidth + bins;
    }

    private int cls(int id) {
      return id >= 0 && id < textVocab ? classOf[id] : SPECIAL;
    }

    void feed(int id) {
      int c = cls(id);
      switch (group) {
        case NONE -> feedOutside(id, c);
        case SPAN_START ->
            expect(
                isTime(id),
                () -> {
                  start = id - firstTemp;
                  group = Group.SPAN_END;
                });
        case SPAN_END ->
            expect(
                isTime(id),
                () -> {
                  end = id - firstTemp;
                  group = Group.SPAN_CLOSE;
                });
        case SPAN_CLOSE ->
            expect(
                c == CLOSE_SPAN,
                () -> {
                  group = Group.NONE;
                  if (firstSpanEnd < 0) {
                    firstSpanStart = start;
                    firstSpanEnd = end;
                  }
                  completed();
                });
        case BOX_X1 ->
            expect(
                isWidth(id),
                () -> {
                  x1 = id - firstWidth;
                  group = Group.BOX_Y1;
                });
        case BOX_Y1 ->
            expect(
                isHeight(id),
                () -> {
                  y1 = id - firstHeight;
                  group = Group.BOX_X2;
                });
        case BOX_X2 -> expect(isWidth(id), () -> group = Group.BOX_Y2);
        case BOX_Y2 -> expect(isHeight(id), () -> group = Group.BOX_CLOSE);
        case BOX_CLOSE ->
            expect(
                c == CLOSE_BOX,
                () -> {
                  group = Group.NONE;
                  completed();
                });
        case PAIR_COLON -> {
          if (c == COLON_OPEN_BOX) {
            group = Group.BOX_X1;
          } else {
            expect(c == COLON, () -> group = Group.PAIR_BRACKET);
          }
        }
        case PAIR_BRACKET -> expect(c == OPEN_BOX_BARE, () -> group = Group.BOX_X1);
        case AFTER_END -> {
          if (c == WORD) {
            group = Group.NONE;
            phase = Phase.NEED_PAIR;
          } else if (c != SEP) {
            group = Group.NONE; // off the grammar: carry on outside any group
          }
        }
        default -> throw new IllegalStateException("group " + group);
      }
    }

    /**
     * An id the grammar did not expect (it was generated without the constraint): leave the group.
     */
    private void expect(boolean ok, Runnable then) {
      if (ok) {
        then.run();
      } else {
        group = Group.NONE;
      }
    }

    private void feedOutside(int id, int c) {
      if (isTime(id)) {
        group = phase == Phase.NEED_END ? Group.AFTER_END : Group.PAIR_COLON;
      } else if (c == OPEN_SPAN) {
        group = Group.SPAN_START;
      } else if ((BOX_OPENERS & bit(c)) != 0) {
        group = Group.BOX_X1;
      }
    }

    /** A group closed: the shape moves on (in a NEED_PAIR phase only timed boxes can open). */
    private void completed() {
      phase =
          switch (phase) {
            case NEED_SPAN ->
                task == Task.STVG
                    ? Phase.NEED_PAIR
                    : task == Task.DVC ? Phase.MORE_SPANS : Phase.DONE;
            case NEED_BOX -> task == Task.DGC ? Phase.MORE_BOXES : Phase.DONE;
            case NEED_PAIR -> Phase.MORE_PAIRS;
            default -> phase;
          };
    }

    TokenMask allowed(int remaining, int[] stopIds) {
      return switch (group) {
        case NONE -> outside(remaining, stopIds);
        case SPAN_START -> bins(firstTemp, firstTemp + bins);
        case SPAN_END -> bins(firstTemp + start, firstTemp + bins);
        case SPAN_CLOSE -> text(bit(CLOSE_SPAN));
        case BOX_X1 -> bins(firstWidth, firstWidth + bins);
        case BOX_Y1 -> bins(firstHeight, firstHeight + bins);
        case BOX_X2 -> bins(firstWidth + x1, firstWidth + bins);
        case BOX_Y2 -> bins(firstHeight + y1, firstHeight + bins);
        case BOX_CLOSE -> text(bit(CLOSE_BOX));
        // ": [" closes in 6 tokens, ":" then "[" in 7; the T that opened the pair left room for the
        // shorter.
        case PAIR_COLON -> text(bit(COLON_OPEN_BOX) | (remaining >= 7 ? bit(COLON) : 0));
        case PAIR_BRACKET -> text(bit(OPEN_BOX_BARE));
        // "Ends in T" is followed by text (not a colon), then a timed box.
        case AFTER_END -> text(bit(WORD) | (remaining >= 2 + pairCost ? bit(SEP) : 0));
      };
    }

    private TokenMask outside(int remaining, int[] stopIds) {
      int need = need(phase, task);
      int classes = remaining - 1 >= need ? TEXT_CLASSES : 0;
      int binStart = 0;
      int binEnd = 0;
      switch (phase) {
        case ANY -> {
          classes |= remaining >= BOX_COST ? BOX_OPENERS : 0;
          if (video) {
            classes |= remaining >= SPAN_COST ? bit(OPEN_SPAN) : 0;
            if (remaining >= pairCost) {
              binStart = firstTemp;
              binEnd = firstTemp + bins;
            }
          }
        }
        case NEED_SPAN, MORE_SPANS ->
            classes |= remaining >= SPAN_COST + need(nextAfterSpan(), task) ? bit(OPEN_SPAN) : 0;
        case NEED_BOX, MORE_BOXES -> classes |= remaining >= BOX_COST ? BOX_OPENERS : 0;
        case NEED_PAIR, MORE_PAIRS -> {
          if (remaining >= pairCost) {
            boolean inSpan = task == Task.STVG && firstSpanEnd >= 0;
            binStart = firstTemp + (inSpan ? firstSpanStart : 0);
            binEnd = firstTemp + (inSpan ? firstSpanEnd + 1 : bins);
          }
        }
        case NEED_END -> {
          if (remaining >= need) {
            binStart = firstTemp;
            binEnd = firstTemp + bins;
          }
        }
        case DONE -> {}
        default -> throw new IllegalStateException("phase " + phase);
      }
      int[] singles = need == 0 ? stopIds : new int[0];
      return new TokenMask(ranges(classes), binStart, binEnd, singles);
    }

    private Phase nextAfterSpan() {
      return phase == Phase.NEED_SPAN && task == Task.STVG ? Phase.NEED_PAIR : Phase.DONE;
    }

    private TokenMask bins(int start, int end) {
      return new TokenMask(new int[0], start, end, new int[0]);
    }

    private TokenMask text(int classes) {
      return new TokenMask(ranges(classes), 0, 0, new int[0]);
    }
  }

  /**
   * The ordinary ids of the classes in {@code classes} (a bit set), as half-open ranges. Cached.
   */
  private int[] ranges(int classes) {
    int[] r = rangesByClasses.get(classes);
    if (r != null) {
      return r;
    }
    int[] buf = new int[64];
    int n = 0;
    int start = -1;
    for (int id = 0; id <= textVocab; id++) {
      boolean in = id < textVocab && (classes & bit(classOf[id])) != 0;
      if (in && start < 0) {
        start = id;
      } else if (!in && start >= 0) {
        if (n + 2 > buf.length) {
          buf = Arrays.copyOf(buf, buf.length * 2);
        }
        buf[n++] = start;
        buf[n++] = id;
        start = -1;
      }
    }
    r = Arrays.copyOf(buf, n);
    rangesByClasses.compareAndSet(classes, null, r);
    return rangesByClasses.get(classes);
  }
}

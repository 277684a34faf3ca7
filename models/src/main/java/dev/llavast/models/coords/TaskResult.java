package dev.llavast.models.coords;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A whole answer decoded the way the reference's parsers read each task (spec §10). Fields that a
 * task does not produce are null or empty.
 *
 * @param task the task the answer was read as
 * @param text the answer's plain text, groups left out
 * @param span TVG, STVG: the first span
 * @param endTime ELC: the first stand-alone timestamp ("Ends in T")
 * @param box REC (and REG if it has one): the first box
 * @param timedBoxes STVG, SVG, ELC: every timed box, in order
 * @param boxes DGC: every box, in order
 * @param spans DVC: every span, in order
 * @param caption ELC: the last comma-separated piece of the text before its first full stop,
 *     trimmed
 */
public record TaskResult(
    Task task,
    String text,
    @Nullable Span span,
    @Nullable Timestamp endTime,
    @Nullable Box box,
    List<TimedBox> timedBoxes,
    List<Box> boxes,
    List<Span> spans,
    @Nullable String caption) {

  public TaskResult {
    Objects.requireNonNull(task, "task");
    timedBoxes = List.copyOf(timedBoxes);
    boxes = List.copyOf(boxes);
    spans = List.copyOf(spans);
  }

  /**
   * Reads the pieces of a whole answer (everything a parser emitted, including {@code finish()}).
   */
  public static TaskResult of(Task task, List<? extends Piece> pieces) {
    StringBuilder text = new StringBuilder();
    List<Span> allSpans = new ArrayList<>();
    List<Box> allBoxes = new ArrayList<>();
    List<TimedBox> allTimed = new ArrayList<>();
    @Nullable Timestamp firstTime = null;
    for (Piece p : pieces) {
      if (p instanceof Piece.Text t) {
        text.append(t.text());
      } else if (p instanceof Span s) {
        allSpans.add(s);
      } else if (p instanceof Box b) {
        allBoxes.add(b);
      } else if (p instanceof TimedBox tb) {
        allTimed.add(tb);
      } else if (p instanceof Timestamp ts && firstTime == null) {
        firstTime = ts;
      }
    }
    String plain = text.toString();
    @Nullable Span firstSpan = allSpans.isEmpty() ? null : allSpans.get(0);
    @Nullable Box firstBox = allBoxes.isEmpty() ? null : allBoxes.get(0);
    List<TimedBox> none = List.of();
    return switch (task) {
      case REC, REG ->
          new TaskResult(task, plain, null, null, firstBox, none, List.of(), List.of(), null);
      case DGC -> new TaskResult(task, plain, null, null, null, none, allBoxes, List.of(), null);
      case TVG, TR ->
          new TaskResult(task, plain, firstSpan, null, null, none, List.of(), List.of(), null);
      case STVG ->
          new TaskResult(task, plain, firstSpan, null, null, allTimed, List.of(), List.of(), null);
      case SVG ->
          new TaskResult(task, plain, null, null, null, allTimed, List.of(), List.of(), null);
      case ELC ->
          new TaskResult(
              task, plain, null, firstTime, null, allTimed, List.of(), List.of(), caption(plain));
      case DVC -> new TaskResult(task, plain, null, null, null, none, List.of(), allSpans, null);
      case FREE_FORM ->
          new TaskResult(
              task, plain, firstSpan, firstTime, firstBox, allTimed, allBoxes, allSpans, null);
    };
  }

  static String caption(String plain) {
    int dot = plain.indexOf('.');
    String head = dot >= 0 ? plain.substring(0, dot) : plain;
    int comma = head.lastIndexOf(',');
    return head.substring(comma + 1).trim();
  }
}

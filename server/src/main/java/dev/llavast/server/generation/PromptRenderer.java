package dev.llavast.server.generation;

import dev.llavast.models.coords.Task;
import java.util.List;
import java.util.Locale;

/**
 * Turns a request's prompt into the plain question text the chat template tokenizes: structured
 * parts become LLaVA-ST shorthand ({@code <t0.409>}, {@code <w0.3>}, {@code <h0.045>}) with values
 * normalized per the spec (§7.2, §7.3: time relative to the clip, {@code u = clip(round(t * fps /
 * (D - 1), 3), 0, 1)}; x and y relative to the original width and height, rounded to 3 decimals),
 * then the task template wraps the question in the wording the model was trained on (§10, §14).
 *
 * <p>Stateless; any thread.
 */
public final class PromptRenderer {
  private PromptRenderer() {}

  /**
   * The geometry that normalizes coordinates.
   *
   * @param clipFrames D, frames in the clip (inclusive range), at least 1
   * @param fps frames per second of the media (0 for an image)
   * @param widthPx original width
   * @param heightPx original height
   */
  public record Geometry(long clipFrames, double fps, int widthPx, int heightPx) {}

  /** The question text (shorthand for coordinates), wrapped by the task template. */
  public static String render(Question question, Task task, Geometry g) {
    String q = question.parts().isEmpty() ? question.text() : renderParts(question.parts(), g);
    return wrap(task, q);
  }

  static String renderParts(List<Question.Part> parts, Geometry g) {
    StringBuilder sb = new StringBuilder();
    for (Question.Part p : parts) {
      if (p instanceof Question.Text t) {
        sb.append(t.text());
      } else if (p instanceof Question.Time t) {
        sb.append(time(t.seconds(), g));
      } else if (p instanceof Question.Span s) {
        sb.append('{')
            .append(time(s.startSeconds(), g))
            .append(',')
            .append(time(s.endSeconds(), g))
            .append('}');
      } else if (p instanceof Question.Box b) {
        sb.append('[')
            .append(shorthand('w', b.x1Px() / g.widthPx()))
            .append(',')
            .append(shorthand('h', b.y1Px() / g.heightPx()))
            .append(',')
            .append(shorthand('w', b.x2Px() / g.widthPx()))
            .append(',')
            .append(shorthand('h', b.y2Px() / g.heightPx()))
            .append(']');
      }
    }
    return sb.toString();
  }

  /** Normalized time of {@code seconds} from the clip start: {@code t * fps / (D - 1)}. */
  static double normalizedTime(double seconds, Geometry g) {
    if (g.clipFrames() <= 1 || g.fps() <= 0) {
      return 0;
    }
    return seconds * g.fps() / (g.clipFrames() - 1);
  }

  private static String time(double seconds, Geometry g) {
    return shorthand('t', normalizedTime(seconds, g));
  }

  /**
   * {@code <t0.409>}: rounded half-up to 3 decimals (as Python's round on typical inputs), clipped
   * to [0, 1].
   */
  static String shorthand(char axis, double normalized) {
    double v = Math.min(1, Math.max(0, Math.rint(normalized * 1000) / 1000));
    String s = String.format(Locale.ROOT, "%.3f", v);
    // trim trailing zeros as the reference writes them: 0.300 -> 0.3, 0.000 -> 0
    s = s.replaceAll("0+$", "");
    if (s.endsWith(".")) {
      s = s.substring(0, s.length() - 1);
    }
    return "<" + axis + s + ">";
  }

  /** Wraps a question in the task's template (reference benchmark wording, spec §10/§14). */
  static String wrap(Task task, String q) {
    switch (task) {
      case TVG:
        return "Give you a textual query: '"
            + q
            + "'. When does the described content occur in the video? "
            + "Please return the start and end timestamps.";
      case STVG:
        return "At which time interval in the video can we see "
            + q
            + " occurring? Please describe the location "
            + "of the corresponding subject/object in this video.Please firstly give the timestamps, and then give "
            + "the spatial bounding box corresponding to each timestamp in the time period.";
      case SVG:
        return q
            + " Can you identify the position of the corresponding subject/object within this video?"
            + "Please give the spatial bounding box corresponding to each timestamp in the time period.";
      case ELC:
        return q
            + " Where is the corresponding subject/object located?Please firstly give the end timestamp, then "
            + "give the event associated with the object/subject, finally give the spatial bounding box "
            + "corresponding to each timestamp in the time period.";
      case TR:
        return "Describe what took place during the period " + q + " in the video.";
      case REC:
        return "Please describe the location of " + q + " in this image.";
      case REG:
        return "What object can be observed within the region " + q + " in the image?";
      case DGC:
        return (q.isBlank() ? "Please describe in detail the contents of the image." : q)
            + " Please respond with interleaved bounding boxes for the corresponding parts of the answer.";
      case DVC:
      case FREE_FORM:
      default:
        return q;
    }
  }
}

package dev.llavast.client.eval;

import dev.llavast.api.v1.Task;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One benchmark question: what to ask about which media, and the answer it is scored against.
 *
 * @param id stable within its data set (predictions are matched and resumed by it)
 * @param task the server's task template the question is asked with
 * @param media the video or image file
 * @param question the text sent (the event description for a template task, the whole prompt
 *     otherwise)
 * @param clip {@code [startFrame, endFrame]} of the video the question is about, or null for all of
 *     it
 * @param truth the ground truth
 */
public record EvalSample(
    String id, Task task, Path media, String question, int @Nullable [] clip, Truth truth) {
  public EvalSample {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(task, "task");
    Objects.requireNonNull(media, "media");
    Objects.requireNonNull(question, "question");
    Objects.requireNonNull(truth, "truth");
  }

  /** What a sample's answer is scored against. */
  public sealed interface Truth permits SpanTruth, BoxTruth, StTruth {}

  /**
   * A time interval (temporal grounding).
   *
   * @param seconds true when start and end are seconds, false when they are fractions of the video
   */
  public record SpanTruth(double start, double end, boolean seconds) implements Truth {}

  /** A box, normalized {@code [x1, y1, x2, y2]} of the image's width and height (REC). */
  public record BoxTruth(double x1, double y1, double x2, double y2, int width, int height)
      implements Truth {}

  /**
   * A spatio-temporal answer (ST-Align STVG, SVG, ELC).
   *
   * @param start span start as a fraction of the clip (NaN for SVG)
   * @param end span end as a fraction of the clip (NaN for SVG)
   * @param boxes pixel boxes {@code [x1, y1, x2, y2]} by original frame number (sampled frames
   *     only)
   * @param width frame width in pixels
   * @param height frame height in pixels
   */
  public record StTruth(
      double start, double end, Map<Integer, double[]> boxes, int width, int height)
      implements Truth {
    public StTruth {
      boxes = Map.copyOf(boxes);
    }
  }
}

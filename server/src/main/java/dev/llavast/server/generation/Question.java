package dev.llavast.server.generation;

import java.util.List;
import java.util.Objects;

/**
 * The user's question, as a transport received it: plain text (coordinates may be written in the
 * LLaVA-ST shorthand {@code <t0.41>}, {@code <w0.3>}, {@code <h0.05>}), or ordered parts with
 * coordinates in seconds and pixels that {@link PromptRenderer} normalizes against the media.
 *
 * @param text the question when {@code parts} is empty
 * @param parts the question as parts; empty when {@code text} is the question
 */
public record Question(String text, List<Part> parts) {
  public Question {
    Objects.requireNonNull(text, "text");
    parts = List.copyOf(parts);
  }

  /** A question written as text. */
  public static Question text(String text) {
    return new Question(text, List.of());
  }

  /** A question written as parts. */
  public static Question parts(List<Part> parts) {
    return new Question("", parts);
  }

  /** One part of a structured question. */
  public sealed interface Part permits Text, Time, Span, Box {}

  /** Literal text. */
  public record Text(String text) implements Part {}

  /** A moment, in seconds from the clip's start. */
  public record Time(double seconds) implements Part {}

  /** A time range, in seconds from the clip's start. */
  public record Span(double startSeconds, double endSeconds) implements Part {}

  /** A box in pixels of the original media. */
  public record Box(double x1Px, double y1Px, double x2Px, double y2Px) implements Part {}
}

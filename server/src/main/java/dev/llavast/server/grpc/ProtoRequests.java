package dev.llavast.server.grpc;

import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.Priority;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.PromptPart;
import dev.llavast.api.v1.Task;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.server.generation.Question;
import dev.llavast.server.generation.Sampling;
import dev.llavast.server.media.Clips;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Request messages of {@code llavast.v1} as the engine's plain values. Only translation: the ranges
 * were checked by {@link RequestValidator}, and every domain rule (clip, task template, sampling
 * defaults) lives below this package. Stateless; any thread.
 */
final class ProtoRequests {
  private ProtoRequests() {}

  /** The question of a prompt (text, or parts in seconds and pixels). */
  static Question question(Prompt p) {
    if (p.getPartsCount() == 0) {
      return Question.text(p.getText());
    }
    List<Question.Part> parts = new ArrayList<>(p.getPartsCount());
    for (PromptPart part : p.getPartsList()) {
      switch (part.getPartCase()) {
        case TEXT -> parts.add(new Question.Text(part.getText()));
        case TIMESTAMP_SECONDS -> parts.add(new Question.Time(part.getTimestampSeconds()));
        case SPAN ->
            parts.add(
                new Question.Span(
                    part.getSpan().getStartSeconds(), part.getSpan().getEndSeconds()));
        case BOX ->
            parts.add(
                new Question.Box(
                    part.getBox().getX1Px(),
                    part.getBox().getY1Px(),
                    part.getBox().getX2Px(),
                    part.getBox().getY2Px()));
        case PART_NOT_SET ->
            throw new IllegalArgumentException("empty prompt part"); // refused by the validator
      }
    }
    return Question.parts(parts);
  }

  /** The clip of a request (the one rule of {@link Clips}), or null for the whole media. */
  static @Nullable ClipRange clip(dev.llavast.api.v1.@Nullable ClipRange clip, String field) {
    return clip == null ? null : Clips.of(clip.getStartSeconds(), clip.getEndSeconds(), field);
  }

  /** The API's task as the model's task: the same names. */
  static dev.llavast.models.coords.Task task(Task t) {
    return switch (t) {
      case TASK_FREE_FORM -> dev.llavast.models.coords.Task.FREE_FORM;
      case TASK_TVG -> dev.llavast.models.coords.Task.TVG;
      case TASK_STVG -> dev.llavast.models.coords.Task.STVG;
      case TASK_SVG -> dev.llavast.models.coords.Task.SVG;
      case TASK_ELC -> dev.llavast.models.coords.Task.ELC;
      case TASK_TR -> dev.llavast.models.coords.Task.TR;
      case TASK_REC -> dev.llavast.models.coords.Task.REC;
      case TASK_REG -> dev.llavast.models.coords.Task.REG;
      case TASK_DGC -> dev.llavast.models.coords.Task.DGC;
      case TASK_DVC -> dev.llavast.models.coords.Task.DVC;
      case UNRECOGNIZED ->
          throw new IllegalArgumentException("unknown task"); // refused by the validator
    };
  }

  /** The scheduler's priority: higher runs first. */
  static int priority(Priority p) {
    return switch (p) {
      case PRIORITY_LOW -> -1;
      case PRIORITY_HIGH -> 1;
      case PRIORITY_UNSPECIFIED, PRIORITY_NORMAL -> 0;
      case UNRECOGNIZED ->
          throw new IllegalArgumentException("unknown priority"); // refused by the validator
    };
  }

  /** Sampling as the request states it. */
  static Sampling sampling(dev.llavast.api.v1.SamplingParams s, boolean logprobs) {
    return new Sampling(
        s.getTemperature(),
        s.getTopP(),
        s.getTopK(),
        s.getRepetitionPenalty(),
        s.hasSeed() ? s.getSeed() : null,
        s.getMaxNewTokens(),
        s.getStopList(),
        s.getReferencePreset(),
        logprobs,
        constraints(s.getConstraints()));
  }

  private static Sampling.Constraints constraints(dev.llavast.api.v1.Constraints c) {
    return switch (c) {
      case CONSTRAINTS_OFF -> Sampling.Constraints.OFF;
      case CONSTRAINTS_COORDINATES -> Sampling.Constraints.COORDINATES;
      case CONSTRAINTS_TASK_SHAPE -> Sampling.Constraints.TASK_SHAPE;
      case UNRECOGNIZED ->
          throw new IllegalArgumentException("unknown constraints"); // refused by the validator
    };
  }

  /** The API's media kind as the decoder's. */
  static DecodedMedia.Kind kind(MediaKind k) {
    return switch (k) {
      case MEDIA_KIND_VIDEO -> DecodedMedia.Kind.VIDEO;
      case MEDIA_KIND_IMAGE -> DecodedMedia.Kind.IMAGE;
      case MEDIA_KIND_FRAMES -> DecodedMedia.Kind.FRAMES;
      case MEDIA_KIND_UNSPECIFIED, UNRECOGNIZED ->
          throw new IllegalArgumentException("not a media kind: " + k);
    };
  }

  /** The decoder's media kind as the API's. */
  static MediaKind kind(DecodedMedia.Kind k) {
    return switch (k) {
      case VIDEO -> MediaKind.MEDIA_KIND_VIDEO;
      case IMAGE -> MediaKind.MEDIA_KIND_IMAGE;
      case FRAMES -> MediaKind.MEDIA_KIND_FRAMES;
    };
  }
}

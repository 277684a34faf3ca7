package dev.llavast.server.grpc;

import dev.llavast.api.v1.BoxInput;
import dev.llavast.api.v1.ClipRange;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.InlineFrames;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.PromptPart;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.SpanInput;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.media.Clips;
import dev.llavast.server.media.MediaErrors;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The cheap checks that run before anything is queued or decoded: every field of a request is in
 * range and well-formed. Collects every violation (not just the first) so a client can fix its
 * request in one go. Stateless apart from the configured limits; any thread.
 */
final class RequestValidator {
  static final int MAX_REQUEST_ID_CHARS = 128;
  static final int MAX_STOP_STRINGS = 8;
  static final int MAX_STOP_CHARS = 64;
  static final int MAX_PROMPT_CHARS = 32_768;
  static final int MAX_PROMPT_PARTS = 256;
  static final int MAX_TOP_K = 1000;
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  private static final Pattern MEDIA_ID = Pattern.compile("sha256:[0-9a-f]{64}");

  private final ServerConfig config;

  RequestValidator(ServerConfig config) {
    this.config = config;
  }

  /**
   * Checks a generation request.
   *
   * @throws ApiException INVALID_REQUEST with one field violation per problem
   */
  void validate(GenerateRequest request) {
    List<FieldViolation> v = new ArrayList<>();
    requestId("request_id", request.getRequestId(), v);
    if (!request.hasMedia()) {
      v.add(
          new FieldViolation(
              "media",
              "is required: a media_id from UploadMedia, or inline video, image or frames"));
    } else {
      media("media", request.getMedia(), v);
    }
    if (request.hasClip()) {
      clip("clip", request.getClip(), v);
    }
    questionFields(
        request.hasPrompt() ? request.getPrompt() : null,
        request.getTaskValue(),
        request.getPriorityValue(),
        request.hasSampling() ? request.getSampling() : null,
        v);
    throwIfAny(request.getMedia(), v);
  }

  /**
   * Throws when {@code v} holds anything: MEDIA_TOO_LARGE when {@code media} is inline and over its
   * cap (with every other violation too), else INVALID_REQUEST.
   */
  void throwIfAny(MediaRef media, List<FieldViolation> v) {
    long inline =
        switch (media.getSourceCase()) {
          case VIDEO_BYTES -> media.getVideoBytes().size();
          case IMAGE_BYTES -> media.getImageBytes().size();
          case FRAMES -> media.getFrames().getImagesList().stream().mapToLong(b -> b.size()).sum();
          default -> 0;
        };
    if (inline > config.maxInlineMediaBytes()) {
      String field =
          switch (media.getSourceCase()) {
            case VIDEO_BYTES -> "media.video_bytes";
            case IMAGE_BYTES -> "media.image_bytes";
            default -> "media.frames.images";
          };
      throw MediaErrors.inlineTooLarge(field, inline, config.maxInlineMediaBytes(), v);
    }
    throwIfAny(v);
  }

  /**
   * Checks what every question carries, in a Generate or a session's Ask: its id, prompt, task,
   * priority and sampling. Enum fields are checked by number, so a value this server does not know
   * (a newer client, or a corrupt one) is refused instead of read as the default.
   */
  void question(
      String requestId,
      @Nullable Prompt prompt,
      int task,
      int priority,
      @Nullable SamplingParams sampling,
      List<FieldViolation> v) {
    requestId("request_id", requestId, v);
    questionFields(prompt, task, priority, sampling, v);
  }

  private void questionFields(
      @Nullable Prompt prompt,
      int task,
      int priority,
      @Nullable SamplingParams sampling,
      List<FieldViolation> v) {
    prompt("prompt", prompt, v);
    if (dev.llavast.api.v1.Task.forNumber(task) == null) {
      v.add(new FieldViolation("task", "is not a task this server knows: " + task));
    }
    if (dev.llavast.api.v1.Priority.forNumber(priority) == null) {
      v.add(new FieldViolation("priority", "is not a priority this server knows: " + priority));
    }
    if (sampling != null) {
      sampling("sampling", sampling, v);
    }
  }

  static void throwIfAny(List<FieldViolation> violations) {
    ApiException.throwIfAny(violations);
  }

  static void requestId(String field, String id, List<FieldViolation> v) {
    if (!id.isEmpty() && !REQUEST_ID.matcher(id).matches()) {
      v.add(
          new FieldViolation(
              field,
              "must be 1.."
                  + MAX_REQUEST_ID_CHARS
                  + " characters of [A-Za-z0-9._:-], got '"
                  + abbreviate(id)
                  + "'"));
    }
  }

  void media(String field, MediaRef media, List<FieldViolation> v) {
    switch (media.getSourceCase()) {
      case MEDIA_ID:
        if (!MEDIA_ID.matcher(media.getMediaId()).matches()) {
          v.add(
              new FieldViolation(
                  field + ".media_id",
                  "must be 'sha256:' followed by 64 lowercase hex digits, got '"
                      + abbreviate(media.getMediaId())
                      + "'"));
        }
        break;
      case VIDEO_BYTES:
        inlineSize(field + ".video_bytes", media.getVideoBytes().size(), v);
        break;
      case IMAGE_BYTES:
        inlineSize(field + ".image_bytes", media.getImageBytes().size(), v);
        break;
      case FRAMES:
        InlineFrames f = media.getFrames();
        if (f.getImagesCount() == 0) {
          v.add(
              new FieldViolation(field + ".frames.images", "must hold at least one encoded frame"));
        }
        long total = 0;
        for (int i = 0; i < f.getImagesCount(); i++) {
          if (f.getImages(i).isEmpty()) {
            v.add(new FieldViolation(field + ".frames.images[" + i + "]", "is empty"));
          }
          total += f.getImages(i).size();
        }
        inlineSize(field + ".frames.images", total, v);
        if (!(f.getFps() > 0) || Double.isInfinite(f.getFps()) || f.getFps() > 1000) {
          v.add(
              new FieldViolation(field + ".frames.fps", "must be in (0, 1000], got " + f.getFps()));
        }
        break;
      default:
        v.add(
            new FieldViolation(
                field, "names no media: set media_id, video_bytes, image_bytes or frames"));
    }
  }

  /** An empty inline item; the size cap is {@link #throwIfAny(MediaRef, List)}'s. */
  private static void inlineSize(String field, long size, List<FieldViolation> v) {
    if (size == 0) {
      v.add(new FieldViolation(field, "is empty"));
    }
  }

  static void clip(String field, ClipRange clip, List<FieldViolation> v) {
    Clips.check(clip.getStartSeconds(), clip.getEndSeconds(), field, v);
  }

  static void prompt(String field, @Nullable Prompt prompt, List<FieldViolation> v) {
    if (prompt == null || (prompt.getText().isEmpty() && prompt.getPartsCount() == 0)) {
      v.add(new FieldViolation(field, "is required: set text or parts"));
      return;
    }
    if (!prompt.getText().isEmpty() && prompt.getPartsCount() > 0) {
      v.add(new FieldViolation(field, "sets both text and parts; use one of them"));
    }
    if (prompt.getText().length() > MAX_PROMPT_CHARS) {
      v.add(
          new FieldViolation(
              field + ".text",
              "has " + prompt.getText().length() + " characters, more than " + MAX_PROMPT_CHARS));
    }
    if (prompt.getPartsCount() > MAX_PROMPT_PARTS) {
      v.add(
          new FieldViolation(
              field + ".parts",
              "has " + prompt.getPartsCount() + " parts, more than " + MAX_PROMPT_PARTS));
      return;
    }
    int chars = 0;
    for (int i = 0; i < prompt.getPartsCount(); i++) {
      PromptPart p = prompt.getParts(i);
      String f = field + ".parts[" + i + "]";
      switch (p.getPartCase()) {
        case TEXT:
          chars += p.getText().length();
          break;
        case TIMESTAMP_SECONDS:
          nonNegative(f + ".timestamp_seconds", p.getTimestampSeconds(), v);
          break;
        case SPAN:
          SpanInput s = p.getSpan();
          nonNegative(f + ".span.start_seconds", s.getStartSeconds(), v);
          nonNegative(f + ".span.end_seconds", s.getEndSeconds(), v);
          if (s.getEndSeconds() < s.getStartSeconds()) {
            v.add(
                new FieldViolation(
                    f + ".span.end_seconds",
                    "must be >= start_seconds "
                        + s.getStartSeconds()
                        + ", got "
                        + s.getEndSeconds()));
          }
          break;
        case BOX:
          BoxInput b = p.getBox();
          nonNegative(f + ".box.x1_px", b.getX1Px(), v);
          nonNegative(f + ".box.y1_px", b.getY1Px(), v);
          nonNegative(f + ".box.x2_px", b.getX2Px(), v);
          nonNegative(f + ".box.y2_px", b.getY2Px(), v);
          if (b.getX2Px() < b.getX1Px()) {
            v.add(
                new FieldViolation(
                    f + ".box.x2_px", "must be >= x1_px " + b.getX1Px() + ", got " + b.getX2Px()));
          }
          if (b.getY2Px() < b.getY1Px()) {
            v.add(
                new FieldViolation(
                    f + ".box.y2_px", "must be >= y1_px " + b.getY1Px() + ", got " + b.getY2Px()));
          }
          break;
        default:
          v.add(new FieldViolation(f, "is empty: set text, timestamp_seconds, span or box"));
      }
    }
    if (chars > MAX_PROMPT_CHARS) {
      v.add(
          new FieldViolation(
              field + ".parts",
              "hold " + chars + " characters of text, more than " + MAX_PROMPT_CHARS));
    }
  }

  void sampling(String field, SamplingParams s, List<FieldViolation> v) {
    if (!(s.getTemperature() >= 0 && s.getTemperature() <= 2)) {
      v.add(
          new FieldViolation(
              field + ".temperature", "must be in [0, 2] (0 = greedy), got " + s.getTemperature()));
    }
    if (!(s.getTopP() >= 0 && s.getTopP() <= 1)) {
      v.add(
          new FieldViolation(
              field + ".top_p", "must be in (0, 1] (0 = unset = 1), got " + s.getTopP()));
    }
    if (s.getTopK() < 0 || s.getTopK() > MAX_TOP_K) {
      v.add(
          new FieldViolation(
              field + ".top_k",
              "must be in [0, " + MAX_TOP_K + "] (0 = disabled), got " + s.getTopK()));
    }
    if (!(s.getRepetitionPenalty() >= 0 && s.getRepetitionPenalty() <= 2)) {
      v.add(
          new FieldViolation(
              field + ".repetition_penalty",
              "must be in (0, 2] (0 = unset = 1), got " + s.getRepetitionPenalty()));
    }
    if (s.getMaxNewTokens() < 0 || s.getMaxNewTokens() > config.maxNewTokensLimit()) {
      v.add(
          new FieldViolation(
              field + ".max_new_tokens",
              "must be in [0, "
                  + config.maxNewTokensLimit()
                  + "] (0 = server default "
                  + config.defaultMaxNewTokens()
                  + "), got "
                  + s.getMaxNewTokens()));
    }
    if (dev.llavast.api.v1.Constraints.forNumber(s.getConstraintsValue()) == null) {
      v.add(
          new FieldViolation(
              field + ".constraints",
              "is not a constraint this server knows: " + s.getConstraintsValue()));
    }
    if (s.getStopCount() > MAX_STOP_STRINGS) {
      v.add(
          new FieldViolation(
              field + ".stop",
              "has " + s.getStopCount() + " strings, more than " + MAX_STOP_STRINGS));
    }
    for (int i = 0; i < s.getStopCount(); i++) {
      String stop = s.getStop(i);
      if (stop.isEmpty() || stop.length() > MAX_STOP_CHARS) {
        v.add(
            new FieldViolation(
                field + ".stop[" + i + "]",
                "must have 1.." + MAX_STOP_CHARS + " characters, got " + stop.length()));
      }
    }
  }

  private static void nonNegative(String field, double value, List<FieldViolation> v) {
    if (!Double.isFinite(value) || value < 0) {
      v.add(new FieldViolation(field, "must be a finite number >= 0, got " + value));
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 37) + "...";
  }
}

package dev.llavast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.llavast.models.coords.Task;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.GenerationJob;
import dev.llavast.server.generation.Question;
import dev.llavast.server.generation.Sampling;
import dev.llavast.server.media.Clips;
import dev.llavast.server.media.MediaErrors;
import dev.llavast.server.tenancy.Tenant;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * An OpenAI chat-completion request body as an engine job. Translation and the checks only this
 * door has (JSON shapes, URLs, OpenAI's parameter ranges); every domain rule (clips, task
 * templates, constraints, prompt shorthand, limits) is the engine's, as for gRPC.
 *
 * <p>Media: one video or image per conversation, in user messages, as a {@code data:} URL (base64)
 * or {@code llavast:media/<media id>} for media uploaded through {@code MediaService}; several
 * {@code image_url} parts in one message are the frames of one video at {@code llavast.fps}
 * (default 1). Remote URLs are refused: the server fetches nothing.
 *
 * <p>Extensions in the {@code llavast} object: {@code task} (a task template), {@code constraints}
 * ({@code off}, {@code coordinates}, {@code task_shape}), {@code fps}, {@code clip} ({@code
 * {"start": s, "end": s}}), {@code top_k}, {@code repetition_penalty} and {@code coordinates}
 * ({@code normalized}: the evaluation style, the default; {@code seconds}: seconds and pixels).
 * Stateless; any thread.
 */
final class ChatRequests {
  static final String MEDIA_REF_PREFIX = "llavast:media/";
  private static final Pattern MEDIA_ID = Pattern.compile("sha256:[0-9a-f]{64}");
  private static final Pattern DATA_URL =
      Pattern.compile("data:([\\w.+-]+/[\\w.+-]+)?(;[\\w=.+-]+)*;base64,(.*)", Pattern.DOTALL);

  private ChatRequests() {}

  /**
   * A parsed request.
   *
   * @param job what the engine answers
   * @param stream whether to answer with server-sent events
   * @param includeUsage whether a stream ends with a usage chunk
   * @param seconds whether coordinates in the text are rendered in seconds and pixels
   */
  record Chat(GenerationJob job, boolean stream, boolean includeUsage, boolean seconds) {}

  /**
   * Parses {@code body}; media given inline start storing on the engine's pool.
   *
   * @param requestId the id the answer runs under (Abort and the logs know it)
   * @param tenant whose request it is
   * @param maxInlineMediaBytes cap of the decoded data: URL media, all together (MEDIA_TOO_LARGE
   *     over it)
   * @throws ApiException INVALID_REQUEST naming the field at fault, MEDIA_NOT_FOUND for an unknown
   *     reference, NOT_FOUND for a model this server does not serve
   */
  static Chat parse(
      JsonNode body,
      String servedModel,
      Engine engine,
      String requestId,
      Tenant tenant,
      long maxInlineMediaBytes) {
    if (body == null || !body.isObject()) {
      throw ApiException.invalid("body", "must be a JSON object");
    }
    JsonNode model = body.get("model");
    if (model != null && !model.isNull() && !model.asText().equals(servedModel)) {
      throw ApiException.builder(
              Reason.INVALID_REQUEST,
              "the model '"
                  + model.asText()
                  + "' is not served here; this server serves '"
                  + servedModel
                  + "'")
          .kind(Reason.Kind.NOT_FOUND)
          .build();
    }
    List<FieldViolation> v = new ArrayList<>();
    JsonNode n = body.get("n");
    if (n != null && !n.isNull() && n.asInt(-1) != 1) {
      v.add(new FieldViolation("n", "only n = 1 is supported, got " + n));
    }
    refuseTrue(body, "logprobs", "log-probabilities are available through the gRPC API only", v);
    if (body.hasNonNull("tools") || body.hasNonNull("functions")) {
      v.add(new FieldViolation("tools", "tool calls are not supported by this model"));
    }
    JsonNode ext = body.path("llavast");
    Task task = task(ext.path("task"), v);
    Sampling sampling = sampling(body, ext, v);
    boolean seconds = renderSeconds(ext.path("coordinates"), v);
    Conversation c = conversation(body.get("messages"), v);
    ApiException.throwIfAny(v);
    double fps = number(ext, "fps", 1.0, v);
    ApiException.throwIfAny(v);
    GenerationJob.Media media = media(c.media, fps, engine, tenant, maxInlineMediaBytes);
    ClipRange clip = clip(ext.path("clip"));
    GenerationJob job =
        new GenerationJob(
            requestId,
            media,
            clip,
            Question.text(c.question),
            task,
            sampling,
            0,
            null,
            c.system,
            c.history,
            tenant);
    return new Chat(
        job,
        body.path("stream").asBoolean(false),
        body.path("stream_options").path("include_usage").asBoolean(false),
        seconds);
  }

  private static void refuseTrue(JsonNode body, String field, String why, List<FieldViolation> v) {
    if (body.path(field).asBoolean(false)) {
      v.add(new FieldViolation(field, why));
    }
  }

  private static Task task(JsonNode t, List<FieldViolation> v) {
    if (t.isMissingNode() || t.isNull()) {
      return Task.FREE_FORM;
    }
    try {
      return Task.valueOf(t.asText().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      v.add(
          new FieldViolation(
              "llavast.task", "is not a task this server knows: '" + t.asText() + "'"));
      return Task.FREE_FORM;
    }
  }

  private static boolean renderSeconds(JsonNode mode, List<FieldViolation> v) {
    String m = mode.isMissingNode() || mode.isNull() ? "normalized" : mode.asText();
    if (!m.equals("normalized") && !m.equals("seconds")) {
      v.add(
          new FieldViolation(
              "llavast.coordinates", "must be 'normalized' or 'seconds', got '" + m + "'"));
    }
    return m.equals("seconds");
  }

  private static Sampling sampling(JsonNode body, JsonNode ext, List<FieldViolation> v) {
    float temperature = (float) number(body, "temperature", 0, v);
    if (!(temperature >= 0 && temperature <= 2)) {
      v.add(
          new FieldViolation("temperature", "must be in [0, 2] (0 = greedy), got " + temperature));
    }
    float topP = (float) number(body, "top_p", 1, v);
    if (!(topP > 0 && topP <= 1)) {
      v.add(new FieldViolation("top_p", "must be in (0, 1], got " + topP));
    }
    int maxTokens =
        (int)
            number(
                body,
                body.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
                0,
                v);
    if (maxTokens < 0) {
      v.add(new FieldViolation("max_tokens", "must be > 0, got " + maxTokens));
    }
    Long seed = body.hasNonNull("seed") ? (long) number(body, "seed", 0, v) : null;
    List<String> stops = new ArrayList<>();
    JsonNode stop = body.get("stop");
    if (stop != null && stop.isTextual()) {
      stops.add(stop.asText());
    } else if (stop != null && stop.isArray()) {
      stop.forEach(s -> stops.add(s.asText()));
    } else if (stop != null && !stop.isNull()) {
      v.add(new FieldViolation("stop", "must be a string or an array of strings"));
    }
    for (int i = 0; i < stops.size(); i++) {
      if (stops.get(i).isEmpty()) {
        v.add(new FieldViolation("stop[" + i + "]", "must not be empty"));
      }
    }
    if (stops.size() > 8) {
      v.add(new FieldViolation("stop", "has " + stops.size() + " strings, more than 8"));
    }
    int topK = (int) number(ext, "top_k", 0, v);
    float penalty = (float) number(ext, "repetition_penalty", 0, v);
    Sampling.Constraints constraints = constraints(ext.path("constraints"), v);
    return new Sampling(
        temperature,
        topP == 1 ? 0f : topP,
        topK,
        penalty,
        seed,
        maxTokens,
        stops,
        false,
        false,
        constraints);
  }

  private static Sampling.Constraints constraints(JsonNode c, List<FieldViolation> v) {
    if (c.isMissingNode() || c.isNull()) {
      return Sampling.Constraints.OFF;
    }
    try {
      return Sampling.Constraints.valueOf(c.asText().toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      v.add(
          new FieldViolation(
              "llavast.constraints",
              "must be off, coordinates or task_shape, got '" + c.asText() + "'"));
      return Sampling.Constraints.OFF;
    }
  }

  private static double number(
      JsonNode parent, String field, double otherwise, List<FieldViolation> v) {
    JsonNode n = parent.get(field);
    if (n == null || n.isNull()) {
      return otherwise;
    }
    if (!n.isNumber()) {
      v.add(new FieldViolation(field, "must be a number, got " + n));
      return otherwise;
    }
    return n.asDouble();
  }

  private static @Nullable ClipRange clip(JsonNode clip) {
    if (clip.isMissingNode() || clip.isNull()) {
      return null;
    }
    return Clips.of(
        clip.path("start").asDouble(Double.NaN),
        clip.path("end").asDouble(Double.NaN),
        "llavast.clip");
  }

  /** What the messages hold: the system prompt, earlier turns, the question and the media parts. */
  private static final class Conversation {
    @Nullable String system;
    final List<ChatTemplate.Turn> history = new ArrayList<>();
    String question = "";
    final List<MediaPart> media = new ArrayList<>();
  }

  /** One {@code image_url} or {@code video_url} part. */
  private record MediaPart(boolean video, String url, String field) {}

  private static Conversation conversation(JsonNode messages, List<FieldViolation> v) {
    Conversation c = new Conversation();
    if (messages == null || !messages.isArray() || messages.isEmpty()) {
      v.add(new FieldViolation("messages", "must be a non-empty array"));
      return c;
    }
    String pendingUser = null;
    int mediaMessage = -1;
    for (int i = 0; i < messages.size(); i++) {
      JsonNode m = messages.get(i);
      String field = "messages[" + i + "]";
      String role = m.path("role").asText("");
      List<MediaPart> parts = new ArrayList<>();
      String text = content(m.get("content"), field, parts, v);
      if (!parts.isEmpty()) {
        if (!role.equals("user")) {
          v.add(new FieldViolation(field + ".content", "media may only be in user messages"));
        } else if (mediaMessage >= 0) {
          v.add(
              new FieldViolation(
                  field + ".content",
                  "the conversation already has its media in messages["
                      + mediaMessage
                      + "]; LLaVA-ST answers about one video or image"));
        } else {
          mediaMessage = i;
          c.media.addAll(parts);
        }
      }
      switch (role) {
        case "system", "developer" -> c.system = c.system == null ? text : c.system + "\n" + text;
        case "user" -> {
          if (pendingUser != null) {
            v.add(
                new FieldViolation(
                    field, "two user messages in a row; put an assistant message between them"));
          }
          pendingUser = text;
        }
        case "assistant" -> {
          if (pendingUser == null) {
            v.add(new FieldViolation(field, "an assistant message must follow a user message"));
          } else {
            c.history.add(ChatTemplate.Turn.text(pendingUser, text));
            pendingUser = null;
          }
        }
        default ->
            v.add(
                new FieldViolation(
                    field + ".role", "must be system, user or assistant, got '" + role + "'"));
      }
    }
    if (pendingUser == null) {
      v.add(new FieldViolation("messages", "must end with a user message (the question)"));
    } else if (pendingUser.isBlank()) {
      v.add(
          new FieldViolation(
              "messages[" + (messages.size() - 1) + "].content", "the question has no text"));
    }
    if (c.media.isEmpty()) {
      v.add(
          new FieldViolation(
              "messages",
              "no video or image: add an image_url or video_url part to a user message"));
    }
    c.question = pendingUser == null ? "" : pendingUser;
    return c;
  }

  /**
   * The text of a message's content (a string, or the text parts joined); media parts go to {@code
   * media}.
   */
  private static String content(
      JsonNode content, String field, List<MediaPart> media, List<FieldViolation> v) {
    if (content == null || content.isNull()) {
      return "";
    }
    if (content.isTextual()) {
      return content.asText();
    }
    if (!content.isArray()) {
      v.add(new FieldViolation(field + ".content", "must be a string or an array of parts"));
      return "";
    }
    StringBuilder text = new StringBuilder();
    for (int j = 0; j < content.size(); j++) {
      JsonNode p = content.get(j);
      String pf = field + ".content[" + j + "]";
      switch (p.path("type").asText("")) {
        case "text" -> text.append(p.path("text").asText(""));
        case "image_url" ->
            media.add(new MediaPart(false, p.path("image_url").path("url").asText(""), pf));
        case "video_url" ->
            media.add(new MediaPart(true, p.path("video_url").path("url").asText(""), pf));
        default ->
            v.add(
                new FieldViolation(
                    pf + ".type",
                    "must be text, image_url or video_url, got '"
                        + p.path("type").asText("")
                        + "'"));
      }
    }
    return text.toString();
  }

  /**
   * The conversation's media: one video, one image, or several images as the frames of one video.
   */
  private static GenerationJob.Media media(
      List<MediaPart> parts, double fps, Engine engine, Tenant tenant, long maxInline) {
    boolean anyVideo = parts.stream().anyMatch(MediaPart::video);
    if (anyVideo && parts.size() > 1) {
      throw ApiException.invalid(
          parts.get(1).field(), "a video_url part must be the only media of the conversation");
    }
    if (parts.size() == 1) {
      MediaPart p = parts.get(0);
      DecodedMedia.Kind kind = p.video() ? DecodedMedia.Kind.VIDEO : DecodedMedia.Kind.IMAGE;
      if (p.url().startsWith(MEDIA_REF_PREFIX)) {
        String id = p.url().substring(MEDIA_REF_PREFIX.length());
        if (!MEDIA_ID.matcher(id).matches()) {
          throw ApiException.invalid(
              p.field() + ".url",
              "a media reference is 'llavast:media/sha256:' and 64 " + "lowercase hex digits");
        }
        return GenerationJob.Media.of(engine.media(tenant, id));
      }
      return new GenerationJob.Media(
          kind,
          engine.storeWhole(tenant, kind, List.of(capped(bytes(p), p.field(), maxInline)), 0));
    }
    if (!(fps > 0 && fps <= 1000)) {
      throw ApiException.invalid("llavast.fps", "must be in (0, 1000], got " + fps);
    }
    List<ByteBuffer> frames = new ArrayList<>();
    for (MediaPart p : parts) {
      frames.add(bytes(p));
    }
    capped(frames, maxInline);
    return new GenerationJob.Media(
        DecodedMedia.Kind.FRAMES, engine.storeWhole(tenant, DecodedMedia.Kind.FRAMES, frames, fps));
  }

  private static ByteBuffer capped(ByteBuffer b, String field, long limit) {
    if (b.remaining() > limit) {
      throw MediaErrors.inlineTooLarge(field + ".url", b.remaining(), limit, List.of());
    }
    return b;
  }

  private static void capped(List<ByteBuffer> frames, long limit) {
    long total = frames.stream().mapToLong(ByteBuffer::remaining).sum();
    if (total > limit) {
      throw MediaErrors.inlineTooLarge("messages", total, limit, List.of());
    }
  }

  private static ByteBuffer bytes(MediaPart p) {
    String url = p.url();
    String field = p.field() + ".url";
    if (url.startsWith("http://") || url.startsWith("https://")) {
      throw ApiException.invalid(
          field,
          "remote URLs are not fetched (the server makes no outbound requests); send "
              + "the bytes as a data: URL, or upload them through MediaService and use llavast:media/<media id>");
    }
    if (url.startsWith(MEDIA_REF_PREFIX)) {
      throw ApiException.invalid(field, "frames (several image parts) must be data: URLs");
    }
    var m = DATA_URL.matcher(url);
    if (!m.matches()) {
      throw ApiException.invalid(field, "must be a base64 data: URL or llavast:media/<media id>");
    }
    try {
      return ByteBuffer.wrap(Base64.getMimeDecoder().decode(m.group(3)));
    } catch (IllegalArgumentException e) {
      throw ApiException.invalid(field, "the data: URL is not valid base64");
    }
  }
}

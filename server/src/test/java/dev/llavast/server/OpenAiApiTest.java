package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.util.JsonFormat;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.Task;
import dev.llavast.server.media.MediaTestFiles;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI-compatible door, driven by the official OpenAI Java SDK (and, where a test needs the
 * raw bytes, the JDK's HTTP client) against the real server on 127.0.0.1 with the tiny checkpoint.
 */
@Timeout(600)
class OpenAiApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonFormat.Printer PROTO_JSON =
      JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

  @TempDir static Path dir;
  static E2eClient server;
  static OpenAIClient openai;
  static String base;
  static String model;
  static byte[] mp4;
  static byte[] png;

  @BeforeAll
  static void start() throws Exception {
    Path ckpt = E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 31);
    server =
        E2eClient.start(E2eClient.config(ckpt, "cpu", 64, 64 << 20, 0, 16), Duration.ofMinutes(3));
    base = "http://127.0.0.1:" + server.serving.http().port();
    for (int i = 0; i < 100 && get("/health").statusCode() != 200; i++) {
      Thread.sleep(50);
    }
    openai =
        OpenAIOkHttpClient.builder()
            .baseUrl(base + "/v1")
            .apiKey("unused")
            .maxRetries(0)
            .timeout(Duration.ofMinutes(2))
            .build();
    model = server.serving.engine().modelName();
    mp4 = Files.readAllBytes(MediaTestFiles.movingSquare(dir.resolve("sq.mp4"), 64, 48, 30, 10));
    png = MediaTestFiles.png(80, 60, 200, 40, 10);
  }

  @AfterAll
  static void stop() {
    if (openai != null) {
      openai.close();
    }
    if (server != null) {
      server.close();
    }
  }

  static String dataUrl(String mime, byte[] bytes) {
    return "data:" + mime + ";base64," + Base64.getEncoder().encodeToString(bytes);
  }

  static HttpResponse<String> get(String path) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create(base + path)).build(),
            HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(String body) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  /** One user message: the question and an image part. */
  static ChatCompletionCreateParams.Builder imageQuestion(String question, byte[] image) {
    return ChatCompletionCreateParams.builder()
        .model(model)
        .maxCompletionTokens(12)
        .temperature(0.0)
        .addUserMessageOfArrayOfContentParts(
            List.of(
                ChatCompletionContentPart.ofText(
                    ChatCompletionContentPartText.builder().text(question).build()),
                ChatCompletionContentPart.ofImageUrl(
                    ChatCompletionContentPartImage.builder()
                        .imageUrl(
                            ChatCompletionContentPartImage.ImageUrl.builder()
                                .url(dataUrl("image/png", image))
                                .build())
                        .build())));
  }

  /** One user message with a video_url part (not in the SDK's types: sent as plain JSON values). */
  static ChatCompletionCreateParams.Builder videoQuestion(String question, String url) {
    return ChatCompletionCreateParams.builder()
        .model(model)
        .maxCompletionTokens(12)
        .temperature(0.0)
        .messages(
            JsonValue.from(
                List.of(
                    Map.of(
                        "role",
                        "user",
                        "content",
                        List.of(
                            Map.of("type", "text", "text", question),
                            Map.of("type", "video_url", "video_url", Map.of("url", url)))))));
  }

  static JsonNode extension(ChatCompletion c) throws Exception {
    return JSON.readTree(
        JSON.writeValueAsString(
            c.choices().get(0)._additionalProperties().get("llavast").convert(Object.class)));
  }

  @Test
  void listsTheServedModelAndSaysItIsTheRandomDemo() throws Exception {
    var models = openai.models().list();
    assertThat(models.data())
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.id()).isEqualTo(model);
              assertThat(m._additionalProperties().get("random_weights_demo").asBoolean())
                  .contains(server.serving.engine().demo());
            });
  }

  @Test
  void aVideoAsADataUrlAnsweredWholeAndTheSameQuestionAgainIsAFeatureCacheHit() throws Exception {
    ChatCompletion first =
        openai
            .chat()
            .completions()
            .create(videoQuestion("When does the square move?", dataUrl("video/mp4", mp4)).build());
    assertThat(first.choices()).hasSize(1);
    assertThat(first.choices().get(0).message().content()).isPresent();
    assertThat(first.usage().get().completionTokens()).isBetween(1L, 12L);
    ChatCompletion again =
        openai
            .chat()
            .completions()
            .create(videoQuestion("When does the square move?", dataUrl("video/mp4", mp4)).build());
    assertThat(extension(again).at("/usage/feature_cache_hit").asBoolean()).isTrue();
    assertThat(again.choices().get(0).message().content())
        .isEqualTo(first.choices().get(0).message().content());
    StringBuilder streamed = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> s =
        openai
            .chat()
            .completions()
            .createStreaming(
                videoQuestion("When does the square move?", dataUrl("video/mp4", mp4)).build())) {
      s.stream()
          .forEach(
              c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
    }
    assertThat(streamed.toString())
        .isEqualTo(first.choices().get(0).message().content().orElseThrow());
  }

  @Test
  void anImageStreamedAsEventsGivesTheSameTextAsTheWholeAnswer() throws Exception {
    ChatCompletion whole =
        openai.chat().completions().create(imageQuestion("Where is it?", png).build());
    StringBuilder streamed = new StringBuilder();
    List<ChatCompletionChunk> chunks = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> s =
        openai
            .chat()
            .completions()
            .createStreaming(
                imageQuestion("Where is it?", png)
                    .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                    .build())) {
      s.stream()
          .forEach(
              c -> {
                chunks.add(c);
                c.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
              });
    }
    assertThat(streamed.toString())
        .isEqualTo(whole.choices().get(0).message().content().orElseThrow());
    ChatCompletionChunk usage = chunks.get(chunks.size() - 1);
    assertThat(usage.choices()).isEmpty();
    assertThat(usage.usage().get().completionTokens())
        .isEqualTo(whole.usage().get().completionTokens());
    assertThat(
            chunks.stream()
                .filter(c -> !c.choices().isEmpty())
                .map(c -> c.choices().get(0).finishReason())
                .filter(java.util.Optional::isPresent)
                .count())
        .isEqualTo(1);
  }

  @Test
  void severalImagePartsAreTheFramesOfOneVideo() throws Exception {
    List<ChatCompletionContentPart> parts = new ArrayList<>();
    parts.add(
        ChatCompletionContentPart.ofText(
            ChatCompletionContentPartText.builder().text("What changes?").build()));
    for (int i = 0; i < 6; i++) {
      parts.add(
          ChatCompletionContentPart.ofImageUrl(
              ChatCompletionContentPartImage.builder()
                  .imageUrl(
                      ChatCompletionContentPartImage.ImageUrl.builder()
                          .url(
                              dataUrl(
                                  "image/png",
                                  MediaTestFiles.png(40, 30, 40 * i, 10, 200 - 30 * i)))
                          .build())
                  .build()));
    }
    ChatCompletion c =
        openai
            .chat()
            .completions()
            .create(
                ChatCompletionCreateParams.builder()
                    .model(model)
                    .maxCompletionTokens(6)
                    .temperature(0.0)
                    .addUserMessageOfArrayOfContentParts(parts)
                    .putAdditionalBodyProperty("llavast", JsonValue.from(Map.of("fps", 2.0)))
                    .build());
    String id = extension(c).at("/media_id").asText();
    MediaInfo info =
        MediaServiceGrpc.newBlockingStub(server.channel)
            .withDeadlineAfter(1, TimeUnit.MINUTES)
            .getMedia(GetMediaRequest.newBuilder().setMediaId(id).build());
    assertThat(info.getKind()).isEqualTo(MediaKind.MEDIA_KIND_FRAMES);
    assertThat(info.getFrameCount()).isEqualTo(6);
    assertThat(info.getFps()).isEqualTo(2.0);
    assertThat(c.usage().get().promptTokens())
        .isGreaterThan(server.serving.engine().imagePromptTokens());
  }

  @Test
  void structuredCoordinatesEqualWhatTheGrpcApiReturns() throws Exception {
    MediaInfo video = server.upload(MediaKind.MEDIA_KIND_VIDEO, mp4, "sq.mp4");
    ChatCompletion c =
        openai
            .chat()
            .completions()
            .create(
                videoQuestion("person opens the door", "llavast:media/" + video.getMediaId())
                    .maxCompletionTokens(24)
                    .putAdditionalBodyProperty(
                        "llavast",
                        JsonValue.from(Map.of("task", "TVG", "constraints", "task_shape")))
                    .build());
    GenerateFinal fin =
        GenerationServiceGrpc.newBlockingStub(server.channel)
            .withDeadlineAfter(2, TimeUnit.MINUTES)
            .generate(
                GenerateRequest.newBuilder()
                    .setMedia(MediaRef.newBuilder().setMediaId(video.getMediaId()))
                    .setPrompt(Prompt.newBuilder().setText("person opens the door"))
                    .setTask(Task.TASK_TVG)
                    .setSampling(
                        SamplingParams.newBuilder()
                            .setMaxNewTokens(24)
                            .setConstraints(dev.llavast.api.v1.Constraints.CONSTRAINTS_TASK_SHAPE))
                    .build());
    JsonNode ext = extension(c);
    List<JsonNode> grpc = new ArrayList<>();
    for (var coord : fin.getCoordinatesList()) {
      grpc.add(JSON.readTree(PROTO_JSON.print(coord)));
    }
    assertThat(grpc).isNotEmpty();
    List<JsonNode> http = new ArrayList<>();
    ext.get("coordinates").forEach(http::add);
    assertThat(http).isEqualTo(grpc);
    assertThat(ext.at("/result/span"))
        .isEqualTo(JSON.readTree(PROTO_JSON.print(fin.getResult().getSpan())));
    // The text renders the span in the evaluation style: {0.xxxxx,0.yyyyy}
    assertThat(c.choices().get(0).message().content().orElseThrow())
        .containsPattern("\\{0\\.\\d{5},[01]\\.\\d{5}}");
  }

  @Test
  void aStopStringEndsTheAnswerBeforeIt() throws Exception {
    ChatCompletion free =
        openai
            .chat()
            .completions()
            .create(imageQuestion("Describe it.", png).maxCompletionTokens(16).build());
    String raw = extension(free).get("text").asText(); // the model's literal output
    // Stop at two plain characters of the answer, else at its first coordinate token (a stop string
    // matches the literal text, coordinate tokens included).
    String stop = null;
    for (int i = 1; i + 2 <= raw.length() && stop == null; i++) {
      String s = raw.substring(i, i + 2);
      if (s.chars().allMatch(ch -> ch > ' ' && ch < 127 && ch != '<' && ch != '>')
          && raw.lastIndexOf('<', i) <= raw.lastIndexOf('>', i)) {
        stop = s;
      }
    }
    java.util.regex.Matcher token = java.util.regex.Pattern.compile("<[A-Z]+-\\d{3}>").matcher(raw);
    if (stop == null && token.find(1)) {
      stop = token.group();
    }
    assertThat(stop).as("a place to stop in %s", raw).isNotNull();
    ChatCompletion stopped =
        openai
            .chat()
            .completions()
            .create(imageQuestion("Describe it.", png).maxCompletionTokens(16).stop(stop).build());
    assertThat(extension(stopped).get("text").asText())
        .isEqualTo(raw.substring(0, raw.indexOf(stop)));
    String text = free.choices().get(0).message().content().orElseThrow();
    String cut = stopped.choices().get(0).message().content().orElseThrow();
    assertThat(text).startsWith(cut);
    assertThat(cut).doesNotContain(stop);
    assertThat(stopped.choices().get(0).finishReason().asString()).isEqualTo("stop");
  }

  @Test
  void badRequestsGetOpenAiShapedErrorsWithTheirParameter() throws Exception {
    String image =
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + dataUrl("image/png", png) + "\"}}";
    assertError(
        post(
            "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}"),
        400,
        "messages[0].content[1].url",
        "remote URLs are not fetched");
    assertError(
        post(
            "{\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
                + image
                + "]}]}"),
        400,
        "n",
        "only n = 1");
    assertError(
        post("{\"messages\":[{\"role\":\"user\",\"content\":\"no media here\"}]}"),
        400,
        "messages",
        "no video or image");
    assertError(
        post(
            "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
                + "{\"type\":\"video_url\",\"video_url\":{\"url\":\"llavast:media/sha256:"
                + "0".repeat(64)
                + "\"}}]}]}"),
        404,
        null,
        "no media");
    assertError(post("not json"), 400, "body", "not valid JSON");
    assertError(post("{\"model\":\"gpt-4o\",\"messages\":[]}"), 404, null, "not served here");
    assertError(
        post(
            "{\"temperature\":7,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                + "\"text\":\"q\"},"
                + image
                + "]}]}"),
        400,
        "temperature",
        "[0, 2]");
    assertError(
        post(
            "{\"llavast\":{\"task\":\"TVG\",\"constraints\":\"task_shape\"},\"messages\":[{\"role\":"
                + "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
                + image
                + "]}]}"),
        400,
        "sampling.constraints",
        "needs a video");
    assertError(
        post(
            "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]}]}"),
        400,
        null,
        null);
    assertError(
        post(
            "{\"max_tokens\":100000,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                + "\"text\":\"q\"},"
                + image
                + "]}]}"),
        400,
        "sampling.max_new_tokens",
        "at most");
    assertError(get("/v1/nothing"), 404, null, "no route");
    byte[] huge = new byte[dev.llavast.server.http.HttpApiServer.MAX_BODY_BYTES + 1];
    HttpClient oneConnection = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    assertError(
        oneConnection.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(huge))
                .build(),
            HttpResponse.BodyHandlers.ofString()),
        413,
        null,
        "larger than");
    // the rest of the body was read and dropped: the connection serves the next request
    assertThat(
            oneConnection
                .send(
                    HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(200);
    OpenAIServiceException sdk =
        catchThrowableOfType(
            OpenAIServiceException.class,
            () -> openai.chat().completions().create(imageQuestion("q", png).n(3).build()));
    assertThat(sdk.statusCode()).isEqualTo(400);
    // the server still serves
    assertThat(
            openai
                .chat()
                .completions()
                .create(imageQuestion("Still there?", png).build())
                .choices())
        .hasSize(1);
  }

  private static void assertError(HttpResponse<String> r, int status, String param, String message)
      throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertThat(e).as(r.body()).isNotNull();
    assertThat(e.get("type").asText()).isNotEmpty();
    assertThat(e.get("code").asText()).matches("[A-Z_]+");
    if (param != null) {
      assertThat(e.get("param").asText()).isEqualTo(param);
    }
    if (message != null) {
      assertThat(e.get("message").asText()).contains(message);
    }
    assertThat(e.get("message").asText())
        .doesNotContain("Exception")
        .doesNotContain(".java:")
        .doesNotContain(dir.toString());
  }

  @Test
  void aClientThatLeavesMidStreamCancelsItsAnswerAndFreesItsBlocks() throws Exception {
    String body =
        "{\"stream\":true,\"max_tokens\":2000,\"temperature\":1,\"messages\":[{\"role\":\"user\","
            + "\"content\":[{\"type\":\"text\",\"text\":\"Tell me everything.\"},{\"type\":\"video_url\",\"video_url\":"
            + "{\"url\":\""
            + dataUrl("video/mp4", mp4)
            + "\"}}]}]}";
    try (Socket socket = new Socket("127.0.0.1", server.serving.http().port())) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  + "Content-Length: "
                  + bytes.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(bytes);
      out.flush();
      InputStream in = socket.getInputStream();
      String head = new String(in.readNBytes(400), StandardCharsets.UTF_8);
      assertThat(head).startsWith("HTTP/1.1 200").contains("text/event-stream").contains("data: {");
    } // the client leaves mid-answer (or just after it ended on its own: either way nothing may
    // stay held)
    server.awaitNoBlocksUsed(Duration.ofSeconds(60));
    assertThat(server.kvBlocksUsed()).isZero();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (server.serving.http().inFlight() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(server.serving.http().inFlight()).isZero();
    assertThat(server.scrapeMetrics())
        .contains("http_requests_total{code=\"200\",route=\"/v1/chat/completions\"}");
  }
}

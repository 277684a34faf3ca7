package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.AbortRequest;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.CreateSessionRequest;
import dev.llavast.api.v1.DeleteMediaRequest;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.GetModelInfoRequest;
import dev.llavast.api.v1.GetSessionRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionServiceGrpc;
import dev.llavast.server.media.MediaTestFiles;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * API keys and tenants over the real server: a call without a key or with a wrong one is
 * UNAUTHENTICATED (health checks need none); two tenants that upload the same bytes cannot see,
 * use, abort or delete each other's media and sessions, and the second tenant's first question on
 * those bytes is a feature-cache miss. The HTTP API takes the same keys.
 */
@Timeout(300)
class TenancyTest {
  static final String ACME = "acme-key-0123456789abcdef";
  static final String GLOBEX = "globex-key-0123456789abcdef";

  @TempDir static Path dir;
  static E2eClient server;
  static Channel acme;
  static Channel globex;
  static byte[] mp4;

  @BeforeAll
  static void start() throws Exception {
    Path keys =
        Files.writeString(
            dir.resolve("keys"), "# tenant key\nacme " + ACME + "\n\nglobex " + GLOBEX + "\n");
    ServerConfig config =
        E2eClient.config(
                E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 13), "cpu", 32, 64 << 20, 0, 8)
            .toBuilder()
            .security(
                new ServerConfig.Security(
                    Optional.of(keys), false, Optional.empty(), Optional.empty(), Optional.empty()))
            .build();
    server = E2eClient.start(config, Duration.ofMinutes(3));
    acme = withKey(ACME);
    globex = withKey(GLOBEX);
    mp4 = Files.readAllBytes(MediaTestFiles.movingSquare(dir.resolve("v.mp4"), 48, 32, 20, 10));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  static Channel withKey(String key) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
    return ClientInterceptors.intercept(
        server.channel, MetadataUtils.newAttachHeadersInterceptor(md));
  }

  static void assertRefused(Runnable call, Status.Code code, String reason) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::run);
    assertThat(e).isNotNull();
    assertThat(e.getStatus().getCode()).isEqualTo(code);
    com.google.rpc.Status st = StatusProto.fromThrowable(e);
    assertThat(st).isNotNull();
    assertThat(st.getDetailsList())
        .anySatisfy(
            d -> {
              try {
                assertThat(d.unpack(ErrorInfo.class).getReason()).isEqualTo(reason);
              } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                throw new AssertionError(x);
              }
            });
    assertThat(e.getStatus().getDescription()).doesNotContain(ACME).doesNotContain(GLOBEX);
  }

  static GenerateRequest question(String mediaId, String requestId, int maxNew) {
    return GenerateRequest.newBuilder()
        .setRequestId(requestId)
        .setMedia(MediaRef.newBuilder().setMediaId(mediaId))
        .setPrompt(Prompt.newBuilder().setText("Where is it?"))
        .setSampling(SamplingParams.newBuilder().setMaxNewTokens(maxNew))
        .build();
  }

  @Test
  void aMissingOrWrongKeyIsUnauthenticatedAndHealthChecksNeedNone() {
    assertRefused(
        () ->
            AdminServiceGrpc.newBlockingStub(server.channel)
                .getModelInfo(GetModelInfoRequest.getDefaultInstance()),
        Status.Code.UNAUTHENTICATED,
        "UNAUTHENTICATED");
    assertRefused(
        () ->
            AdminServiceGrpc.newBlockingStub(withKey("not-a-key-0123456789abcdef"))
                .getModelInfo(GetModelInfoRequest.getDefaultInstance()),
        Status.Code.UNAUTHENTICATED,
        "UNAUTHENTICATED");
    assertThat(
            AdminServiceGrpc.newBlockingStub(acme)
                .getModelInfo(GetModelInfoRequest.getDefaultInstance())
                .getModelName())
        .isNotEmpty();
    assertThat(
            HealthGrpc.newBlockingStub(server.channel)
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService(ServerConfig.LIVENESS_SERVICE)
                        .build())
                .getStatus()
                .name())
        .isEqualTo("SERVING");
  }

  @Test
  void twoTenantsWithTheSameBytesCannotTouchEachOthersMediaSessionsOrRequests() throws Exception {
    MediaInfo a = E2eClient.upload(acme, MediaKind.MEDIA_KIND_VIDEO, mp4, "a.mp4");
    String id = a.getMediaId();
    // globex does not see acme's media
    assertRefused(
        () ->
            MediaServiceGrpc.newBlockingStub(globex)
                .getMedia(GetMediaRequest.newBuilder().setMediaId(id).build()),
        Status.Code.NOT_FOUND,
        "MEDIA_NOT_FOUND");
    assertRefused(
        () ->
            GenerationServiceGrpc.newBlockingStub(globex)
                .withDeadlineAfter(1, TimeUnit.MINUTES)
                .generate(question(id, "g0", 4)),
        Status.Code.NOT_FOUND,
        "MEDIA_NOT_FOUND");
    assertRefused(
        () ->
            MediaServiceGrpc.newBlockingStub(globex)
                .deleteMedia(DeleteMediaRequest.newBuilder().setMediaId(id).build()),
        Status.Code.NOT_FOUND,
        "MEDIA_NOT_FOUND");
    assertThat(
            MediaServiceGrpc.newBlockingStub(acme)
                .getMedia(GetMediaRequest.newBuilder().setMediaId(id).build())
                .getMediaId())
        .isEqualTo(id);

    // acme's answer warms acme's cache; globex's own copy of the same bytes starts cold
    GenerateFinal first =
        GenerationServiceGrpc.newBlockingStub(acme)
            .withDeadlineAfter(2, TimeUnit.MINUTES)
            .generate(question(id, "a1", 4));
    assertThat(first.getUsage().getFeatureCacheHit()).isFalse();
    assertThat(
            GenerationServiceGrpc.newBlockingStub(acme)
                .withDeadlineAfter(2, TimeUnit.MINUTES)
                .generate(question(id, "a2", 4))
                .getUsage()
                .getFeatureCacheHit())
        .isTrue();
    MediaInfo g = E2eClient.upload(globex, MediaKind.MEDIA_KIND_VIDEO, mp4, "g.mp4");
    assertThat(g.getMediaId()).isEqualTo(id);
    assertThat(g.getAlreadyPresent())
        .as("existence of another tenant's copy must not show")
        .isFalse();
    assertThat(
            GenerationServiceGrpc.newBlockingStub(globex)
                .withDeadlineAfter(2, TimeUnit.MINUTES)
                .generate(question(id, "g1", 4))
                .getUsage()
                .getFeatureCacheHit())
        .isFalse();

    // sessions
    SessionInfo s =
        SessionServiceGrpc.newBlockingStub(acme)
            .withDeadlineAfter(1, TimeUnit.MINUTES)
            .createSession(
                CreateSessionRequest.newBuilder()
                    .setMedia(MediaRef.newBuilder().setMediaId(id))
                    .build());
    assertRefused(
        () ->
            SessionServiceGrpc.newBlockingStub(globex)
                .getSession(GetSessionRequest.newBuilder().setSessionId(s.getSessionId()).build()),
        Status.Code.NOT_FOUND,
        "SESSION_NOT_FOUND");

    // a running request of acme's cannot be aborted by globex under the same id (questions are
    // tried
    // until one is still running when the aborts arrive: the random model may stop early)
    boolean abortedByOwner = false;
    for (int attempt = 0; attempt < 8 && !abortedByOwner; attempt++) {
      String rid = "shared-" + attempt;
      GenerateRequest q =
          question(id, rid, 2000).toBuilder()
              .setPrompt(Prompt.newBuilder().setText("Describe everything, attempt " + attempt))
              .build();
      Iterator<GenerateStreamResponse> running =
          GenerationServiceGrpc.newBlockingStub(acme)
              .withDeadlineAfter(2, TimeUnit.MINUTES)
              .generateStream(q);
      assertThat(running.hasNext()).isTrue();
      assertThat(
              GenerationServiceGrpc.newBlockingStub(globex)
                  .abort(AbortRequest.newBuilder().setRequestId(rid).build())
                  .getFound())
          .isFalse();
      abortedByOwner =
          GenerationServiceGrpc.newBlockingStub(acme)
              .abort(AbortRequest.newBuilder().setRequestId(rid).build())
              .getFound();
      StatusRuntimeException end =
          catchThrowableOfType(
              StatusRuntimeException.class,
              () -> {
                while (running.hasNext()) {
                  running.next();
                }
              });
      if (abortedByOwner && end != null) { // (the answer may also have ended on its own meanwhile)
        assertThat(end.getStatus().getCode()).isEqualTo(Status.Code.CANCELLED);
      }
    }
    assertThat(abortedByOwner).as("a question still running when its owner aborted it").isTrue();

    // deleting removes only the caller's copy
    MediaServiceGrpc.newBlockingStub(globex)
        .deleteMedia(DeleteMediaRequest.newBuilder().setMediaId(id).build());
    assertThat(
            MediaServiceGrpc.newBlockingStub(acme)
                .getMedia(GetMediaRequest.newBuilder().setMediaId(id).build())
                .getMediaId())
        .isEqualTo(id);
  }

  @Test
  void theHttpApiTakesTheSameKeys() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + server.serving.http().port();
    for (int i = 0;
        i < 100
            && http.send(
                        HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                        HttpResponse.BodyHandlers.discarding())
                    .statusCode()
                != 200;
        i++) {
      Thread.sleep(50);
    }
    HttpResponse<String> none =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.body())
        .contains("\"code\":\"UNAUTHENTICATED\"")
        .contains("authentication_error");
    assertThat(
            http.send(
                    HttpRequest.newBuilder(URI.create(base + "/v1/models"))
                        .header("Authorization", "Bearer " + ACME)
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(200);
    MediaInfo a =
        E2eClient.upload(
            acme,
            MediaKind.MEDIA_KIND_VIDEO,
            Files.readAllBytes(MediaTestFiles.movingSquare(dir.resolve("h.mp4"), 48, 32, 12, 10)),
            "h.mp4");
    String body =
        "{\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
            + "{\"type\":\"video_url\",\"video_url\":{\"url\":\"llavast:media/"
            + a.getMediaId()
            + "\"}}]}]}";
    HttpResponse<String> other =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + GLOBEX)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(other.statusCode()).as(other.body()).isEqualTo(404);
    HttpResponse<String> own =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + ACME)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
  }
}

package dev.llavast.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.google.rpc.Code;
import dev.llavast.api.v1.FinishReason;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.client.fake.FakeLlavaStServer;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LlavaStClientTest {
  @TempDir Path dir;
  FakeLlavaStServer server;
  LlavaStClient client;

  @BeforeEach
  void setUp() throws Exception {
    server = FakeLlavaStServer.start();
    client =
        LlavaStClient.builder()
            .target(server.target())
            .deadline(Duration.ofSeconds(10))
            .retryPolicy(RetryPolicy.defaults().withJitter(0))
            .build();
  }

  @AfterEach
  void tearDown() throws Exception {
    client.close();
    server.close();
  }

  private Path video(String name, int size, long seed) throws Exception {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    Path p = dir.resolve(name);
    Files.write(p, b);
    return p;
  }

  @Test
  void mediaIdIsSha256OfTheBytes() throws Exception {
    Path p = dir.resolve("abc.mp4");
    Files.writeString(p, "abc", StandardCharsets.US_ASCII);
    // FIPS 180-2 test vector for "abc"
    assertThat(MediaIds.of(p))
        .isEqualTo("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(client.upload(p).mediaId()).isEqualTo(MediaIds.of(p));
  }

  @Test
  void uploadSendsChunksOfTheGivenSizeReportsProgressAndSkipsAReupload() throws Exception {
    int size = 2 * (1 << 20) + 12345;
    Path p = video("clip.mp4", size, 1);
    List<long[]> progress = new CopyOnWriteArrayList<>();
    UploadResult r =
        client.upload(
            p, UploadOptions.defaults().withProgress((s, t) -> progress.add(new long[] {s, t})));

    assertThat(r.skipped()).isFalse();
    assertThat(r.chunks()).isEqualTo(3);
    assertThat(server.chunkSizes).containsExactly(1 << 20, 1 << 20, 12345);
    assertThat(progress)
        .extracting(a -> a[0])
        .containsExactly((long) (1 << 20), 2L << 20, (long) size);
    assertThat(progress).extracting(a -> a[1]).containsOnly((long) size);
    assertThat(r.media().getSizeBytes()).isEqualTo(size);
    assertThat(r.media().getLabel()).isEqualTo("clip.mp4");
    // the server saw the id in the routing header of the upload itself
    assertThat(server.callsTo("UploadMedia"))
        .extracting(FakeLlavaStServer.SeenCall::mediaIdHeader)
        .containsExactly(r.mediaId());

    UploadResult again = client.upload(p);
    assertThat(again.skipped()).isTrue();
    assertThat(again.mediaId()).isEqualTo(r.mediaId());
    assertThat(server.uploadsCompleted.get()).isEqualTo(1);

    UploadResult small =
        client.upload(video("b.mp4", 1000, 2), UploadOptions.defaults().withChunkBytes(300));
    assertThat(small.chunks()).isEqualTo(4);
    assertThat(server.chunkSizes.subList(3, 7)).containsExactly(300, 300, 300, 100);
  }

  @Test
  void streamingIteratorDeliversDeltasThenTheAnswerWithTypedCoordinates() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 3)).mediaId();
    GenerateRequest req = LlavaStClient.question(id, "When does the event happen?").build();
    StringBuilder text = new StringBuilder();
    List<Coordinate> fromDeltas = new ArrayList<>();
    Answer answer = null;
    int deltas = 0;
    try (AnswerStream s = client.generateStream(req)) {
      while (s.hasNext()) {
        StreamEvent e = s.next();
        if (e instanceof Delta d) {
          deltas++;
          text.append(d.text());
          fromDeltas.addAll(d.coordinates());
        } else {
          answer = (Answer) e;
        }
      }
    }
    assertThat(deltas).isEqualTo(FakeLlavaStServer.SCRIPT.size());
    assertThat(answer).isNotNull();
    assertThat(answer.text())
        .isEqualTo(text.toString())
        .isEqualTo(String.join("", FakeLlavaStServer.SCRIPT));
    assertThat(answer.finishReason()).isEqualTo(FinishReason.FINISH_REASON_STOP);
    assertThat(answer.coordinates()).isEqualTo(fromDeltas).hasSize(2);

    // span bins 20 and 45 of 100 over a 10 s clip: 20/99*10 and 45/99*10 seconds
    Span span = (Span) answer.coordinates().get(0).value();
    assertThat(span.start().seconds()).isCloseTo(2.020202, within(1e-5));
    assertThat(span.end().seconds()).isCloseTo(4.545454, within(1e-5));
    assertThat(span.start().bin()).isEqualTo(20);
    assertThat(answer.coordinates().get(0).textOffsetBytes()).isEqualTo(answer.text().indexOf("{"));
    // box bins 10,20,50,80 on 640x360: 64.6465, 72.7273, 323.2323, 290.9091 px
    Box box = (Box) answer.coordinates().get(1).value();
    assertThat(box.x1().px()).isCloseTo(64.6465, within(1e-3));
    assertThat(box.y1().px()).isCloseTo(72.7273, within(1e-3));
    assertThat(box.x2().px()).isCloseTo(323.2323, within(1e-3));
    assertThat(box.y2().px()).isCloseTo(290.9091, within(1e-3));
    assertThat(answer.coordinates().get(1).describe()).isEqualTo("[65,73,323,291]px");
    assertThat(answer.coordinates().get(0).describe()).isEqualTo("2.02s-4.55s");
    assertThat(server.callsTo("GenerateStream"))
        .extracting(FakeLlavaStServer.SeenCall::mediaIdHeader)
        .containsExactly(id);
  }

  @Test
  void blockingAsyncAndListenerGiveTheSameAnswer() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 4)).mediaId();
    GenerateRequest req = LlavaStClient.question(id, "what happens?", 6);
    Answer blocking = client.generate(req);
    Answer async = client.generateAsync(req).get(10, TimeUnit.SECONDS);
    StringBuilder viaDeltas = new StringBuilder();
    CompletableFuture<Answer> done = new CompletableFuture<>();
    client.generateStream(
        req,
        new StreamListener() {
          @Override
          public void onDelta(Delta d) {
            viaDeltas.append(d.text());
          }

          @Override
          public void onAnswer(Answer a) {
            done.complete(a);
          }

          @Override
          public void onError(LlavaStException e) {
            done.completeExceptionally(e);
          }
        });
    Answer listened = done.get(10, TimeUnit.SECONDS);
    String expected = String.join("", FakeLlavaStServer.SCRIPT.subList(0, 6));
    assertThat(blocking.text()).isEqualTo(expected);
    assertThat(async.text()).isEqualTo(expected);
    assertThat(listened.text()).isEqualTo(expected).isEqualTo(viaDeltas.toString());
    assertThat(blocking.finishReason()).isEqualTo(FinishReason.FINISH_REASON_LENGTH);
    assertThat(blocking.usage().getGeneratedTokens()).isEqualTo(6);
    assertThat(server.callsTo("Generate"))
        .extracting(FakeLlavaStServer.SeenCall::mediaIdHeader)
        .containsOnly(id);
  }

  @Test
  void retriesAnOverloadedServerHonouringRetryInfo() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 5)).mediaId();
    server.overloadNext(2, Code.RESOURCE_EXHAUSTED, Duration.ofMillis(300));
    Answer a = client.generate(LlavaStClient.question(id, "q", 3));
    assertThat(a.text()).isEqualTo("The event happens");
    List<FakeLlavaStServer.SeenCall> attempts = server.callsTo("Generate");
    assertThat(attempts).hasSize(3);
    for (int i = 1; i < 3; i++) {
      long gapMs = (attempts.get(i).nanoTime() - attempts.get(i - 1).nanoTime()) / 1_000_000;
      // jitter 0: exactly the server's 300 ms, never earlier; well below the 5 s default cap
      assertThat(gapMs).isBetween(300L, 2000L);
    }

    // the streaming path retries too (before its first message)
    server.overloadNext(1, Code.UNAVAILABLE, Duration.ofMillis(50));
    try (AnswerStream s = client.generateStream(LlavaStClient.question(id, "q", 2))) {
      assertThat(s.answer().text()).isEqualTo("The event");
    }
    assertThat(server.callsTo("GenerateStream")).hasSize(2);

    // and the async path
    server.overloadNext(1, Code.RESOURCE_EXHAUSTED, Duration.ofMillis(50));
    assertThat(
            client
                .generateAsync(LlavaStClient.question(id, "q", 1))
                .get(10, TimeUnit.SECONDS)
                .text())
        .isEqualTo("The");
  }

  @Test
  void givesUpWithTheReasonAfterItsAttemptBudget() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 6)).mediaId();
    server.overloadNext(1000, Code.RESOURCE_EXHAUSTED, Duration.ofMillis(20));
    try (LlavaStClient c =
        LlavaStClient.builder()
            .channel(client.channel())
            .retryPolicy(RetryPolicy.defaults().withMaxAttempts(3).withJitter(0))
            .build()) {
      int before = server.callsTo("Generate").size();
      assertThatThrownBy(() -> c.generate(LlavaStClient.question(id, "q", 3)))
          .isInstanceOfSatisfying(
              LlavaStException.class,
              e -> {
                assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(e.reason()).isEqualTo(Reason.OVERLOADED);
                assertThat(e.attempts()).isEqualTo(3);
                assertThat(e.retryDelay()).contains(Duration.ofMillis(20));
                assertThat(e.getMessage()).contains("OVERLOADED").contains("after 3 attempts");
              });
      assertThat(server.callsTo("Generate").size() - before).isEqualTo(3);

      CompletableFuture<Answer> f = c.generateAsync(LlavaStClient.question(id, "q", 3));
      assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(LlavaStException.class)
          .cause()
          .hasMessageContaining("after 3 attempts");
    }
  }

  @Test
  void givesUpWhenTheTimeBudgetWouldBePassed() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 7)).mediaId();
    server.overloadNext(1000, Code.RESOURCE_EXHAUSTED, Duration.ofMillis(200));
    try (LlavaStClient c =
        LlavaStClient.builder()
            .channel(client.channel())
            .retryPolicy(
                RetryPolicy.defaults()
                    .withMaxAttempts(100)
                    .withMaxElapsed(Duration.ofMillis(500))
                    .withJitter(0))
            .build()) {
      int before = server.callsTo("Generate").size();
      long t0 = System.nanoTime();
      // attempts start at ~0, ~200, ~400 ms (plus the attempts' own latency); none may start after
      // 500 ms
      LlavaStException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              LlavaStException.class, () -> c.generate(LlavaStClient.question(id, "q", 3)));
      long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
      List<FakeLlavaStServer.SeenCall> seen = server.callsTo("Generate");
      seen = seen.subList(before, seen.size());
      assertThat(e.reason()).isEqualTo(Reason.OVERLOADED);
      assertThat(e.attempts()).isEqualTo(seen.size()).isBetween(1, 3);
      long lastStartMs =
          (seen.get(seen.size() - 1).nanoTime() - seen.get(0).nanoTime()) / 1_000_000;
      assertThat(lastStartMs).isLessThanOrEqualTo(500);
      for (int i = 1; i < seen.size(); i++) {
        assertThat(seen.get(i).nanoTime() - seen.get(i - 1).nanoTime())
            .isGreaterThanOrEqualTo(200_000_000L);
      }
      assertThat(elapsedMs).isLessThan(3000);
    }
  }

  @Test
  void neverRetriesAStreamAfterItsFirstMessage() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 8)).mediaId();
    server.failAfterFirstDelta(true);
    try (AnswerStream s = client.generateStream(LlavaStClient.question(id, "q", 5))) {
      assertThat(s.hasNext()).isTrue();
      assertThat(((Delta) s.next()).text()).isEqualTo("The");
      assertThatThrownBy(s::hasNext)
          .isInstanceOfSatisfying(
              LlavaStException.class,
              e -> {
                assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
                assertThat(e.reason()).isEqualTo(Reason.NOT_READY);
                assertThat(e.attempts()).isEqualTo(1);
              });
    }
    assertThat(server.callsTo("GenerateStream")).hasSize(1);
  }

  @Test
  void typedExceptionsCarryReasonAndFieldViolations() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 9)).mediaId();
    GenerateRequest bad =
        LlavaStClient.question(id, "q")
            .setSampling(SamplingParams.newBuilder().setMaxNewTokens(5000).setTopP(1.5f))
            .build();
    assertThatThrownBy(() -> client.generate(bad))
        .isInstanceOfSatisfying(
            LlavaStException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.reason()).isEqualTo(Reason.INVALID_REQUEST);
              assertThat(e.attempts()).isEqualTo(1);
              assertThat(e.violations())
                  .extracting(LlavaStException.FieldViolation::field)
                  .containsExactly("sampling.max_new_tokens", "sampling.top_p");
              assertThat(e.violations().get(0).description()).contains("5000");
            });
    assertThatThrownBy(
            () -> client.generateStream(LlavaStClient.question("sha256:00", "q", 3)).answer())
        .isInstanceOfSatisfying(
            LlavaStException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND);
              assertThat(e.reason()).isEqualTo(Reason.MEDIA_NOT_FOUND);
              assertThat(e.reasonName()).isEqualTo("MEDIA_NOT_FOUND");
              assertThat(e.retryDelay()).isEmpty();
            });
    server.maxUploadBytes(1000);
    assertThatThrownBy(
            () ->
                client.upload(
                    video("big.mp4", 5000, 10), UploadOptions.defaults().withChunkBytes(600)))
        .isInstanceOfSatisfying(
            LlavaStException.class, e -> assertThat(e.reason()).isEqualTo(Reason.MEDIA_TOO_LARGE));
    assertThat(client.getMedia("sha256:unknown")).isEmpty();
  }

  @Test
  void closingTheIteratorCancelsTheCall() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 11)).mediaId();
    server.tokenDelay(Duration.ofMillis(100));
    AnswerStream s = client.generateStream(LlavaStClient.question(id, "q").build());
    assertThat(s.next()).isInstanceOf(Delta.class);
    s.close();
    assertThat(s.hasNext()).isFalse();
    assertThat(server.cancelLatch.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(server.cancelledStreams.get()).isEqualTo(1);
    // the server stopped well before the 16-token script ended
    long t0 = System.nanoTime();
    while (server.tokensSentBeforeCancel.get() < 0 && System.nanoTime() - t0 < 3_000_000_000L) {
      Thread.sleep(10);
    }
    assertThat(server.tokensSentBeforeCancel.get())
        .isBetween(1, FakeLlavaStServer.SCRIPT.size() - 4);
  }

  @Test
  void videoSessionUploadsOnceForManyQuestions() throws Exception {
    Path v = video("talk.mp4", 300_000, 12);
    String id;
    try (VideoSession session = client.openSession(v)) {
      id = session.mediaId();
      assertThat(id).isEqualTo(MediaIds.of(v));
      for (String q :
          List.of("Who speaks?", "When does the event happen?", "Where is the person?")) {
        Answer a = session.ask(q, 4);
        assertThat(a.text()).isEqualTo("The event happens in");
      }
      assertThat(session.info().getTurns()).isEqualTo(3);
    }
    assertThat(server.uploadsCompleted.get()).isEqualTo(1);
    assertThat(server.sessionsCreated.get()).isEqualTo(1);
    assertThat(server.sessionsClosed.get()).isEqualTo(1);
    assertThat(server.callsTo("Ask"))
        .hasSize(3)
        .extracting(FakeLlavaStServer.SeenCall::mediaIdHeader)
        .containsOnly(id);

    // a second session on the same file finds it on the server and does not upload again
    try (VideoSession again = client.openSession(v)) {
      assertThat(again.mediaId()).isEqualTo(id);
      // second ask on the same media: features were cached by the first session's questions
      assertThat(again.ask("Again?", 2).usage().getFeatureCacheHit()).isTrue();
    }
    assertThat(server.uploadsCompleted.get()).isEqualTo(1);
  }

  @Test
  void closingTheClientCancelsRunningCallsAndPendingRetries() throws Exception {
    String id = client.upload(video("v.mp4", 5000, 13)).mediaId();
    server.tokenDelay(Duration.ofMillis(100));
    CompletableFuture<Answer> running =
        client.generateAsync(LlavaStClient.question(id, "q").build());
    Thread.sleep(150);
    server.overloadNext(1, Code.RESOURCE_EXHAUSTED, Duration.ofSeconds(20));
    CompletableFuture<Answer> waiting = client.generateAsync(LlavaStClient.question(id, "q", 2));
    long t0 = System.nanoTime();
    while (server.callsTo("Generate").size() < 2 && System.nanoTime() - t0 < 5_000_000_000L) {
      Thread.sleep(10);
    }
    Thread.sleep(100); // the second call is now waiting 20 s for its retry
    client.close();
    for (CompletableFuture<Answer> f : List.of(running, waiting)) {
      assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              LlavaStException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.CANCELLED));
    }
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(10_000);
  }

  @Test
  void clientDoesNotCloseAChannelItWasGiven() throws Exception {
    try (LlavaStClient borrowed = LlavaStClient.builder().channel(client.channel()).build()) {
      assertThat(borrowed.modelInfo().getModelName()).isEqualTo("llava-st-demo-tiny");
    }
    assertThat(client.serverStatus().getReady()).isTrue();
  }

  @Test
  void mediaIdHeaderConstantMatchesTheServers() {
    // ServerConfig.MEDIA_ID_HEADER in the server module; repeated because the client cannot depend
    // on it
    assertThat(LlavaStClient.MEDIA_ID_HEADER).isEqualTo("x-media-id");
  }
}

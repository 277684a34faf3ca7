package dev.llavast.client.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.rpc.Code;
import dev.llavast.api.v1.Constraints;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.Task;
import dev.llavast.client.MediaIds;
import dev.llavast.client.fake.FakeLlavaStServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Runs the CLI's commands against the loopback fake server and checks what they print. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LlavaStCliTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  FakeLlavaStServer server;

  record Result(int code, String out, String err) {}

  @BeforeEach
  void setUp() throws Exception {
    server = FakeLlavaStServer.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    server.close();
  }

  Result cli(String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    List<String> all = new ArrayList<>(List.of("--target", server.target(), "--retry-budget", "5"));
    all.addAll(List.of(args));
    int code =
        LlavaStCli.run(
            all.toArray(String[]::new),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
            false);
    return new Result(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  Path video(int size) throws Exception {
    byte[] b = new byte[size];
    new Random(size).nextBytes(b);
    Path p = dir.resolve("clip-" + size + ".mp4");
    Files.write(p, b);
    return p;
  }

  @Test
  void uploadPrintsTheMediaIdAndSkipsAReupload() throws Exception {
    Path v = video(3000);
    Result r = cli("", "upload", "--chunk-size", "1024", v.toString());
    assertThat(r.code()).isZero();
    String[] lines = r.out().split("\n");
    assertThat(lines[0]).isEqualTo(MediaIds.of(v));
    assertThat(lines[1])
        .isEqualTo(
            "clip-3000.mp4: video, 3000 bytes, 640x360, 10.00s, 250 frames (uploaded in 3 chunks)");
    assertThat(r.err()).isEmpty(); // no terminal, no --progress: no bar

    Result again = cli("", "upload", "--json", "--progress", v.toString());
    assertThat(again.code()).isZero();
    JsonNode j = JSON.readTree(again.out());
    assertThat(j.get("skipped").asBoolean()).isTrue();
    assertThat(j.get("chunks").asInt()).isZero();
    assertThat(j.at("/media/mediaId").asText()).isEqualTo(MediaIds.of(v));
    assertThat(again.err()).contains("upload [##############################] 100%");
    assertThat(server.uploadsCompleted.get()).isEqualTo(1);
  }

  @Test
  void askStreamsTheAnswerAndPrintsCoordinatesInSecondsAndPixels() throws Exception {
    Path v = video(5000);
    Result r = cli("", "ask", "--video", v.toString(), "When does the event happen?");
    assertThat(r.code()).as(r.err()).isZero();
    List<String> lines = r.out().lines().toList();
    assertThat(lines.get(0)).isEqualTo(String.join("", FakeLlavaStServer.SCRIPT));
    assertThat(lines.get(1)).isEqualTo("  span 2.02s-4.55s");
    assertThat(lines.get(2)).isEqualTo("  box [65,73,323,291]px");
    assertThat(lines.get(3))
        .startsWith("[STOP, 16 tokens, ttft ")
        .endsWith("media " + MediaIds.of(v) + "]");
  }

  @Test
  void askSendsTheConstraintAndTheTaskAndRefusesAnUnknownMode() throws Exception {
    Path v = video(5003);
    Result r =
        cli(
            "",
            "ask",
            "--video",
            v.toString(),
            "--task",
            "tvg",
            "--constrain",
            "task-shape",
            "--max-new-tokens",
            "8",
            "the dog jumps");
    assertThat(r.code()).as(r.err()).isZero();
    GenerateRequest sent = server.lastGenerateStream;
    assertThat(sent.getSampling().getConstraints()).isEqualTo(Constraints.CONSTRAINTS_TASK_SHAPE);
    assertThat(sent.getSampling().getMaxNewTokens()).isEqualTo(8);
    assertThat(sent.getTask()).isEqualTo(Task.TASK_TVG);
    Result bad = cli("", "ask", "--video", v.toString(), "--constrain", "sometimes", "q");
    assertThat(bad.code()).isNotZero();
    assertThat(bad.err()).contains("--constrain must be off, coordinates or task-shape");
  }

  @Test
  void everySubcommandPrintsItsHelpAndTaskHelpListsTheTasks() throws Exception {
    for (String sub : List.of("upload", "ask", "session", "status", "model", "bench")) {
      Result r = cli("", sub, "--help");
      assertThat(r.code()).as(sub + ": " + r.err()).isZero();
      assertThat(r.out()).as(sub).startsWith("Usage: llavast " + sub);
    }
    assertThat(cli("", "ask", "--help").out()).contains("FREE_FORM, TVG").contains("DVC");
  }

  @Test
  void askJsonPrintsOneObjectForScripts() throws Exception {
    Path v = video(5001);
    String id = MediaIds.of(v);
    assertThat(cli("", "upload", v.toString()).code()).isZero();
    Result r = cli("", "ask", "--media", id, "--max-tokens", "6", "--json", "When?");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out().lines().count()).isEqualTo(1);
    JsonNode j = JSON.readTree(r.out());
    assertThat(j.get("text").asText())
        .isEqualTo(String.join("", FakeLlavaStServer.SCRIPT.subList(0, 6)));
    assertThat(j.get("finish_reason").asText()).isEqualTo("LENGTH");
    assertThat(j.get("media_id").asText()).isEqualTo(id);
    JsonNode span = j.get("coordinates").get(0);
    assertThat(span.get("type").asText()).isEqualTo("span");
    assertThat(span.at("/start/seconds").asDouble()).isCloseTo(200.0 / 99, within(1e-9));
    assertThat(span.at("/end/bin").asInt()).isEqualTo(45);
    assertThat(j.at("/usage/generated_tokens").asInt()).isEqualTo(6);
    // prompt: 2520 visual tokens + 1 word
    assertThat(j.at("/usage/prompt_tokens").asInt()).isEqualTo(2521);
  }

  @Test
  void askReportsTheServersReasonAndViolations() throws Exception {
    Result r = cli("", "ask", "--media", "sha256:nope", "q");
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("NOT_FOUND / MEDIA_NOT_FOUND").contains("no media sha256:nope");

    Path v = video(5002);
    cli("", "upload", v.toString());
    Result bad = cli("", "ask", "--media", MediaIds.of(v), "--max-tokens", "9999", "--json", "q");
    assertThat(bad.code()).isEqualTo(1);
    JsonNode e = JSON.readTree(bad.out()).get("error");
    assertThat(e.get("code").asText()).isEqualTo("INVALID_ARGUMENT");
    assertThat(e.get("reason").asText()).isEqualTo("INVALID_REQUEST");
    assertThat(e.at("/violations/0/field").asText()).isEqualTo("sampling.max_new_tokens");

    server.overloadNext(100, Code.RESOURCE_EXHAUSTED, Duration.ofMillis(10));
    Result busy = cli("", "--retries", "2", "ask", "--media", MediaIds.of(v), "q");
    assertThat(busy.code()).isEqualTo(1);
    assertThat(busy.err())
        .contains("RESOURCE_EXHAUSTED / OVERLOADED")
        .contains("after 2 attempts")
        .contains("server suggests retrying after 10 ms");
  }

  @Test
  void sessionAnswersEveryLineOfStdinWithOneUpload() throws Exception {
    Path v = video(8000);
    Result r =
        cli(
            "Who is there?\n\nWhen does it start?\nWhere is it?\n",
            "session",
            "--video",
            v.toString(),
            "--max-tokens",
            "3",
            "--json");
    assertThat(r.code()).as(r.err()).isZero();
    List<String> lines = r.out().lines().toList();
    assertThat(lines).hasSize(3);
    for (String l : lines) {
      assertThat(JSON.readTree(l).get("text").asText()).isEqualTo("The event happens");
    }
    assertThat(server.uploadsCompleted.get()).isEqualTo(1);
    assertThat(server.sessionsCreated.get()).isEqualTo(1);
    assertThat(server.sessionsClosed.get()).isEqualTo(1);
    assertThat(server.callsTo("Ask")).hasSize(3);
  }

  @Test
  void statusAndModel() throws Exception {
    Result s = cli("", "status");
    assertThat(s.code()).isZero();
    assertThat(s.out())
        .contains("ready: true")
        .contains("worker cpu:0: healthy, running 0, waiting 0, kv 32/128 (25.0%)");
    Result m = cli("", "model");
    assertThat(m.code()).isZero();
    assertThat(m.out())
        .startsWith("model: llava-st-demo-tiny (random-weight demo: answers are meaningless)")
        .contains("frames/video 100, video tokens 2520, image tokens 729, context 4096");
    JsonNode j = JSON.readTree(cli("", "model", "--json").out());
    assertThat(j.get("coordinateBins").asInt()).isEqualTo(100);
  }

  @Test
  void benchReportsThroughputLatenciesCacheRatiosAndDrawsAChart() throws Exception {
    Path out = dir.resolve("bench.json");
    Path png = dir.resolve("bench.png");
    server.tokenDelay(Duration.ofMillis(2));
    Result r =
        cli(
            "",
            "bench",
            "--videos",
            "2",
            "--questions",
            "3",
            "--concurrency",
            "1,3",
            "--max-tokens",
            "8",
            "--duration",
            "20",
            "--out",
            out.toString(),
            "--plot",
            png.toString());
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("TTFT ms p50/p90/p99").contains("req/s");
    JsonNode j = JSON.readTree(out.toFile());
    assertThat(j.at("/config/warmup_requests").asInt()).isEqualTo(2);
    assertThat(j.get("media_ids")).hasSize(2);
    JsonNode levels = j.get("levels");
    assertThat(levels).hasSize(2);
    // level 1: 6 requests, the first question about each video misses the feature cache, the rest
    // hit
    JsonNode l1 = levels.get(0);
    assertThat(l1.get("requests").asInt()).isEqualTo(6);
    assertThat(l1.get("succeeded").asInt()).isEqualTo(6);
    assertThat(l1.get("errors").size()).isZero();
    assertThat(l1.get("generated_tokens").asInt()).isEqualTo(48);
    assertThat(l1.get("feature_cache_hit_ratio").asDouble()).isCloseTo(4 / 6.0, within(1e-9));
    // level 2 runs after level 1: every request hits
    assertThat(levels.get(1).get("feature_cache_hit_ratio").asDouble()).isEqualTo(1.0);
    assertThat(l1.at("/ttft_ms/count").asInt()).isEqualTo(6);
    assertThat(l1.at("/inter_token_ms/count").asInt()).isEqualTo(6 * 7);
    // with 2 ms per token, inter-token latency is at least ~2 ms and the e2e at least 8 tokens'
    // worth
    assertThat(l1.at("/inter_token_ms/p50").asDouble()).isGreaterThanOrEqualTo(1.5);
    assertThat(l1.at("/e2e_ms/p50").asDouble()).isGreaterThanOrEqualTo(16.0);
    assertThat(l1.at("/e2e_ms/p99").asDouble())
        .isGreaterThanOrEqualTo(l1.at("/e2e_ms/p50").asDouble());
    assertThat(l1.get("tokens_per_s").asDouble())
        .isCloseTo(48 / l1.get("duration_s").asDouble(), within(1e-6));
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img.getWidth()).isEqualTo(960);
    assertThat(img.getHeight()).isEqualTo(420);
  }

  @Test
  void benchCanStartAnEmbeddedServerThroughTheProviderHook() throws Exception {
    Result r =
        cli(
            "",
            "bench",
            "--in-process",
            "fake",
            "--server-opt",
            "token-delay-ms=1",
            "--videos",
            "1",
            "--questions",
            "2",
            "--concurrency",
            "2",
            "--max-tokens",
            "4",
            "--warmup",
            "1",
            "--duration",
            "10",
            "--json");
    assertThat(r.code()).as(r.err()).isZero();
    JsonNode l = JSON.readTree(r.out()).get("levels").get(0);
    assertThat(l.get("succeeded").asInt()).isEqualTo(2);
    FakeLlavaStServer embedded = dev.llavast.client.fake.FakeEmbeddedServerProvider.LAST.get();
    // 1 warm-up + 2 measured requests went to the embedded server, none to the --target one
    assertThat(embedded.callsTo("GenerateStream")).hasSize(3);
    assertThat(embedded.uploadsCompleted.get()).isEqualTo(2);
    assertThat(server.calls).isEmpty();
  }

  @Test
  void openLoopLatencyCountsFromTheScheduledArrival() throws Exception {
    // 5 arrivals at 1000/s but only 1 in flight: each request (4 tokens x 10 ms >= 40 ms) waits for
    // the ones before it, so the last one's latency from its arrival is >= 4 x 40 ms
    server.tokenDelay(Duration.ofMillis(10));
    Result r =
        cli(
            "",
            "bench",
            "--videos",
            "1",
            "--questions",
            "5",
            "--concurrency",
            "1",
            "--max-tokens",
            "4",
            "--rate",
            "1000",
            "--warmup",
            "0",
            "--duration",
            "20",
            "--json");
    assertThat(r.code()).as(r.err()).isZero();
    JsonNode j = JSON.readTree(r.out());
    assertThat(j.at("/config/arrival_rate_per_s").asDouble()).isEqualTo(1000.0);
    JsonNode l = j.get("levels").get(0);
    assertThat(l.get("succeeded").asInt()).isEqualTo(5);
    assertThat(l.at("/e2e_ms/p99").asDouble()).isGreaterThanOrEqualTo(160.0);
    assertThat(l.at("/ttft_ms/p99").asDouble()).isGreaterThanOrEqualTo(130.0);
  }

  @Test
  void closedLoopLatencyStartsWhenTheClientSends() throws Exception {
    // C=1, 4 tokens x 50 ms: each request takes ~200 ms from its own send. Counting from before the
    // wait for the previous request would give ~250 ms TTFT and ~400 ms end to end.
    server.tokenDelay(Duration.ofMillis(50));
    Result r =
        cli(
            "",
            "bench",
            "--videos",
            "1",
            "--questions",
            "4",
            "--concurrency",
            "1",
            "--max-tokens",
            "4",
            "--warmup",
            "0",
            "--duration",
            "20",
            "--json");
    assertThat(r.code()).as(r.err()).isZero();
    JsonNode l = JSON.readTree(r.out()).get("levels").get(0);
    assertThat(l.at("/ttft_ms/p50").asDouble()).isBetween(50.0, 150.0);
    assertThat(l.at("/e2e_ms/p50").asDouble()).isBetween(200.0, 330.0);
  }

  @Test
  void askAboutAnImageGivesBoxesInItsPixels() throws Exception {
    BufferedImage img = new BufferedImage(200, 100, BufferedImage.TYPE_INT_RGB);
    Path png = dir.resolve("cat.png");
    ImageIO.write(img, "png", png.toFile());
    Result r = cli("", "ask", "--image", png.toString(), "Where is the cat?");
    assertThat(r.code()).as(r.err()).isZero();
    // bins 10,20,50,80 of 100 on 200x100: 20.2, 20.2, 101.0, 80.8 px
    assertThat(r.out()).contains("  box [20,20,101,81]px");
    assertThat(r.out()).contains("  span 0.00s-0.00s"); // an image has no duration
  }

  @Test
  void benchStopsAtItsTimeBoundAndCountsErrorsByCode() throws Exception {
    server.tokenDelay(Duration.ofMillis(200));
    long t0 = System.nanoTime();
    Result r =
        cli(
            "",
            "bench",
            "--videos",
            "1",
            "--questions",
            "50",
            "--concurrency",
            "2",
            "--max-tokens",
            "16",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--json");
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertThat(r.code())
        .as(r.err())
        .isEqualTo(1); // nothing can finish: 16 tokens take 3.2 s > 1 s + 1 s grace
    JsonNode l = JSON.readTree(r.out()).get("levels").get(0);
    assertThat(l.get("requests").asInt()).isEqualTo(2);
    assertThat(l.get("succeeded").asInt()).isZero();
    assertThat(l.at("/errors/CANCELLED").asInt()).isEqualTo(2);
    assertThat(seconds).isLessThan(10);
  }
}

package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.client.Answer;
import dev.llavast.client.Cancellable;
import dev.llavast.client.Delta;
import dev.llavast.client.LlavaStClient;
import dev.llavast.client.MediaIds;
import dev.llavast.client.RetryPolicy;
import dev.llavast.client.StreamListener;
import dev.llavast.client.bench.EmbeddedServer;
import dev.llavast.client.cli.LlavaStCli;
import dev.llavast.server.generation.DemoCheckpoint;
import dev.llavast.server.media.MediaTestFiles;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's CLI ({@code llavast ...}) against the REAL server on loopback: the random-weight
 * demo checkpoint (tiny), real decoding, vision encoder, scheduler and generation. Answers are
 * random; the tests check structure and the arithmetic relating coordinates to the media (px =
 * normalized x size, seconds = normalized x duration), plus what the server saw (uploads counted by
 * its gRPC metrics).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ClientAgainstServerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int IMAGE_W = 96;
  private static final int IMAGE_H = 64;

  @TempDir static Path dir;
  static Serving serving;
  static String target;

  record Result(int code, String out, String err) {}

  @BeforeAll
  static void startServer() throws Exception {
    ServerConfig config =
        LlavaStEmbeddedServerProvider.withModel(
            ServerConfig.defaults(), Optional.empty(), "cpu:2", 64, 64);
    serving = Serving.start(config);
    target = "127.0.0.1:" + serving.server().port();
    awaitReady(serving);
  }

  @AfterAll
  static void stopServer() {
    if (serving != null) {
      serving.close();
    }
  }

  static void awaitReady(Serving s) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!s.server().isReady()) {
      assertThat(System.nanoTime()).as("server ready within 120 s").isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  static Result cliAt(String target, String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    List<String> all = new ArrayList<>(List.of("--target", target));
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

  static Result cli(String stdin, String... args) {
    return cliAt(target, stdin, args);
  }

  /** {@code grpc_server_started_total} of one method, read from the server's metric registry. */
  static long started(String method) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(b, serving.server().registry().scrape());
    Matcher m =
        Pattern.compile(
                "(?m)^grpc_server_started_total\\{[^}]*grpc_method=\""
                    + method
                    + "\"[^}]*} ([0-9.eE+]+)$")
            .matcher(b.toString(StandardCharsets.UTF_8));
    long total = 0;
    while (m.find()) {
      total += (long) Double.parseDouble(m.group(1));
    }
    return total;
  }

  static Path png(String name, int r, int g, int b) throws Exception {
    return Files.write(dir.resolve(name), MediaTestFiles.png(IMAGE_W, IMAGE_H, r, g, b));
  }

  /**
   * Every coordinate of an answer is consistent with the media: box px = normalized x width (or
   * height); time bin k of a clip of {@code frames} frames at {@code fps} is normalized k/99 and
   * lies at original frame rint(k/99 x (frames-1)), i.e. seconds = that frame / fps (spec §7.2,
   * frame-exact).
   */
  static int checkCoordinates(JsonNode answer, int width, int height, long frames, double fps) {
    int bytes = answer.get("text").asText().getBytes(StandardCharsets.UTF_8).length;
    int n = 0;
    for (JsonNode c : answer.get("coordinates")) {
      n++;
      assertThat(c.get("text_offset_bytes").asInt()).isBetween(0, bytes);
      switch (c.get("type").asText()) {
        case "time" -> checkTime(c.get("time"), frames, fps);
        case "span" -> {
          checkTime(c.get("start"), frames, fps);
          checkTime(c.get("end"), frames, fps);
        }
        case "box" -> checkBox(c.get("box"), width, height);
        case "timed_box" -> {
          checkTime(c.get("time"), frames, fps);
          checkBox(c.get("box"), width, height);
        }
        default -> throw new AssertionError("unknown coordinate type in " + c);
      }
    }
    return n;
  }

  static void checkTime(JsonNode t, long frames, double fps) {
    assertThat(frames).as("a time coordinate in an answer about a video").isPositive();
    int bin = t.get("bin").asInt();
    assertThat(bin).isBetween(0, 99);
    assertThat(t.get("normalized").asDouble()).isCloseTo(bin / 99.0, within(1e-9));
    long frame = Math.round(Math.rint(bin / 99.0 * (frames - 1)));
    assertThat(t.get("seconds").asDouble()).isCloseTo(frame / fps, within(1e-9));
    assertThat(t.get("media_seconds").asDouble())
        .isCloseTo(frame / fps, within(1e-9)); // the clip is the video
  }

  static void checkBox(JsonNode b, int width, int height) {
    for (String k : List.of("x1", "x2")) {
      double norm = b.get(k + "_normalized").asDouble();
      assertThat(norm).isBetween(0.0, 1.0);
      assertThat(b.get(k + "_px").asDouble()).as(k).isCloseTo(norm * width, within(1e-6));
    }
    for (String k : List.of("y1", "y2")) {
      double norm = b.get(k + "_normalized").asDouble();
      assertThat(norm).isBetween(0.0, 1.0);
      assertThat(b.get(k + "_px").asDouble()).as(k).isCloseTo(norm * height, within(1e-6));
    }
  }

  @Test
  void modelReportsTheRandomWeightDemoAndStatusReportsTheWorkers() throws Exception {
    Result m = cli("", "model");
    assertThat(m.code()).as(m.err()).isZero();
    assertThat(m.out())
        .startsWith(
            "model: "
                + DemoCheckpoint.MODEL_NAME
                + " (random-weight demo: answers are meaningless)")
        .contains("devices: cpu:0, cpu:1");
    JsonNode j = JSON.readTree(cli("", "model", "--json").out());
    assertThat(j.get("randomWeightsDemo").asBoolean()).isTrue();
    assertThat(j.get("framesPerVideo").asInt()).isEqualTo(100);

    Result s = cli("", "status");
    assertThat(s.code()).as(s.err()).isZero();
    assertThat(s.out())
        .contains("ready: true")
        .contains("draining: false")
        .contains("worker cpu:0: healthy")
        .contains("worker cpu:1: healthy");
  }

  @Test
  void uploadThenAskAboutAnImageAsJson() throws Exception {
    Path img = png("red.png", 200, 30, 30);
    Result up = cli("", "upload", img.toString());
    assertThat(up.code()).as(up.err()).isZero();
    String id = MediaIds.of(img);
    assertThat(up.out().lines().toList().get(0)).isEqualTo(id);
    assertThat(up.out()).contains("red.png: image, ").contains(IMAGE_W + "x" + IMAGE_H);

    Result again = cli("", "upload", "--json", img.toString());
    assertThat(JSON.readTree(again.out()).get("skipped").asBoolean()).isTrue();

    Result r =
        cli(
            "",
            "ask",
            "--image",
            img.toString(),
            "--max-tokens",
            "24",
            "--json",
            "Where is the red region?");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out().lines().count()).isEqualTo(1);
    JsonNode a = JSON.readTree(r.out());
    assertThat(a.get("media_id").asText()).isEqualTo(id);
    assertThat(a.get("finish_reason").asText()).isIn("STOP", "LENGTH");
    int generated = a.at("/usage/generated_tokens").asInt();
    assertThat(generated).isBetween(1, 24);
    if (a.get("finish_reason").asText().equals("LENGTH")) {
      assertThat(generated).isEqualTo(24);
    }
    // one image: the 729 visual tokens are part of the prompt
    assertThat(a.at("/usage/visual_tokens").asInt()).isEqualTo(729);
    assertThat(a.at("/usage/prompt_tokens").asInt()).isGreaterThan(729);
    checkCoordinates(a, IMAGE_W, IMAGE_H, 0, 0.0);

    // the same question again: greedy decoding gives the same answer, and the features are cached
    JsonNode b =
        JSON.readTree(
            cli(
                    "",
                    "ask",
                    "--media",
                    id,
                    "--max-tokens",
                    "24",
                    "--json",
                    "Where is the red region?")
                .out());
    assertThat(b.get("text").asText()).isEqualTo(a.get("text").asText());
    assertThat(b.at("/usage/feature_cache_hit").asBoolean()).isTrue();

    // streamed (not --json): the first line is the text, the last the summary
    Result streamed =
        cli("", "ask", "--media", id, "--max-tokens", "24", "Where is the red region?");
    assertThat(streamed.code()).as(streamed.err()).isZero();
    List<String> lines = streamed.out().lines().toList();
    assertThat(lines.get(0)).isEqualTo(a.get("text").asText());
    assertThat(lines.get(lines.size() - 1))
        .startsWith("[" + a.get("finish_reason").asText() + ", " + generated + " tokens, ttft ")
        .contains("media " + id)
        .endsWith("features cached]");
  }

  @Test
  void askAboutAShortVideoGivesCoordinatesConsistentWithItsDuration() throws Exception {
    // 10 frames at 5 fps: 2 s, 64x48
    Path v = MediaTestFiles.movingSquare(dir.resolve("square.mp4"), 64, 48, 10, 5.0);
    Result r =
        cli(
            "",
            "ask",
            "--video",
            v.toString(),
            "--max-tokens",
            "32",
            "--json",
            "When does the square move?");
    assertThat(r.code()).as(r.err()).isZero();
    JsonNode a = JSON.readTree(r.out());
    assertThat(a.get("media_id").asText()).isEqualTo(MediaIds.of(v));
    // 100 sampled frames: the 20 x 81 slow feature rows are spliced in (the 900 fast slots keep
    // their
    // placeholder embeddings), inside a prompt of the 900 + 1620 visual positions plus text
    assertThat(a.at("/usage/visual_tokens").asInt()).isEqualTo(20 * 81);
    assertThat(a.at("/usage/prompt_tokens").asInt()).isGreaterThan(900 + 20 * 81);
    assertThat(a.at("/usage/feature_cache_hit").asBoolean()).isFalse();
    JsonNode info = JSON.readTree(cli("", "upload", "--json", v.toString()).out()).get("media");
    assertThat(info.get("frameCount").asLong()).isEqualTo(10);
    assertThat(info.get("fps").asDouble()).isCloseTo(5.0, within(1e-6));
    assertThat(info.get("durationSeconds").asDouble()).isCloseTo(2.0, within(0.21));
    int n = checkCoordinates(a, 64, 48, 10, 5.0);
    // greedy decoding of the random demo model is deterministic; this question yields time
    // coordinates
    assertThat(n).as(a.toString()).isPositive();
  }

  @Test
  void sessionAsksThreeQuestionsAndTheServerSeesOneUpload() throws Exception {
    Path img = png("green.png", 20, 200, 40);
    long uploadsBefore = started("UploadMedia");
    long asksBefore = started("Ask");
    Result r =
        cli(
            "What colour is it?\nWhere is the object?\n\nIs it bright?\n",
            "session",
            "--image",
            img.toString(),
            "--max-tokens",
            "8",
            "--json");
    assertThat(r.code()).as(r.err()).isZero();
    List<String> lines = r.out().lines().toList();
    assertThat(lines).hasSize(3);
    for (String l : lines) {
      JsonNode a = JSON.readTree(l);
      assertThat(a.get("media_id").asText()).isEqualTo(MediaIds.of(img));
      assertThat(a.at("/usage/generated_tokens").asInt()).isBetween(1, 8);
      checkCoordinates(a, IMAGE_W, IMAGE_H, 0, 0.0);
    }
    assertThat(started("UploadMedia") - uploadsBefore).isEqualTo(1);
    assertThat(started("Ask") - asksBefore).isEqualTo(3);
    assertThat(serving.engine().sessions().openCount()).isZero(); // closed at EOF
  }

  @Test
  void anOverloadedServerIsRetriedAndTheClientGivesUpWithOverloaded() throws Exception {
    // one worker that runs one sequence and queues one: a long generation plus one queued request
    // fill it
    ServerConfig config =
        LlavaStEmbeddedServerProvider.withModel(
            ServerConfig.defaults(), Optional.empty(), "cpu", 1, 1);
    try (Serving busy = Serving.start(config);
        LlavaStClient client =
            LlavaStClient.builder()
                .target("127.0.0.1:" + busy.server().port())
                .retryPolicy(RetryPolicy.defaults())
                .build()) {
      awaitReady(busy);
      String busyTarget = "127.0.0.1:" + busy.server().port();
      Path img = png("blue.png", 30, 30, 220);
      String id = client.upload(img).mediaId();
      // both streams are read to the end (a stream nobody reads is paused, then failed, by the
      // server)
      CountDownLatch firstDelta = new CountDownLatch(1);
      StreamListener reader =
          new StreamListener() {
            @Override
            public void onDelta(Delta d) {
              firstDelta.countDown();
            }

            @Override
            public void onAnswer(Answer a) {}
          };
      Cancellable running =
          client.generateStream(LlavaStClient.question(id, "Describe everything.", 3000), reader);
      Cancellable queued = null;
      try {
        assertThat(firstDelta.await(60, TimeUnit.SECONDS))
            .as("the long generation started")
            .isTrue();
        queued = client.generateStream(LlavaStClient.question(id, "And again.", 3000), reader);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        ServerStatus st = client.serverStatus();
        while (st.getQueueDepth() < 1) {
          assertThat(System.nanoTime()).as("second request queued").isLessThan(deadline);
          Thread.sleep(20);
          st = client.serverStatus();
        }
        // exactly one request waits (it used to be counted twice); one runs
        assertThat(st.getQueueDepth()).isEqualTo(1);
        assertThat(st.getWorkers(0).getRunningSequences()).isEqualTo(1);
        long t0 = System.nanoTime();
        Result r =
            cliAt(
                busyTarget,
                "",
                "--retries",
                "3",
                "--retry-budget",
                "3",
                "ask",
                "--media",
                id,
                "--max-tokens",
                "4",
                "--json",
                "Anything?");
        double tookS = (System.nanoTime() - t0) / 1e9;
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(1);
        JsonNode e = JSON.readTree(r.out()).get("error");
        assertThat(e.get("code").asText()).isEqualTo("RESOURCE_EXHAUSTED");
        assertThat(e.get("reason").asText()).isEqualTo("OVERLOADED");
        assertThat(e.get("attempts").asInt()).as(e.toString()).isBetween(2, 3);
        assertThat(e.get("message").asText()).contains("waiting queue is full");
        assertThat(tookS).isLessThan(10.0);
        // the long generation was running all along: the rejections were the full queue
        ServerStatus after = client.serverStatus();
        assertThat(after.getWorkers(0).getRunningSequences()).isEqualTo(1);
        assertThat(after.getQueueDepth()).isEqualTo(1);
      } finally {
        running.cancel();
        if (queued != null) {
          queued.cancel();
        }
      }
    }
  }

  @Test
  void benchStartsTheRealServerInProcessAndMeasuresGeneratedFrameVideos() throws Exception {
    EmbeddedServer.Provider p = EmbeddedServer.find(LlavaStEmbeddedServerProvider.NAME);
    assertThat(p).isInstanceOf(LlavaStEmbeddedServerProvider.class);
    // one command: an embedded real server (tiny random-weight checkpoint), one generated video
    // uploaded
    // as MEDIA_KIND_FRAMES, two questions about it
    Result r =
        cliAt(
            "127.0.0.1:1",
            "",
            "bench",
            "--in-process=llavast",
            "--server-opt",
            "model=tiny",
            "--server-opt",
            "devices=cpu",
            "--videos",
            "1",
            "--questions",
            "2",
            "--concurrency",
            "1",
            "--max-tokens",
            "4",
            "--duration",
            "60",
            "--warmup",
            "0",
            "--json");
    assertThat(r.code()).as(r.out() + r.err()).isZero();
    JsonNode j = JSON.readTree(r.out());
    assertThat(j.get("media_ids")).hasSize(1);
    JsonNode level = j.get("levels").get(0);
    assertThat(level.get("requests").asInt()).isEqualTo(2);
    assertThat(level.get("succeeded").asInt()).as(level.toString()).isEqualTo(2);
    assertThat(level.get("errors").size()).isZero();
    assertThat(level.get("generated_tokens").asInt()).isBetween(2, 8);
    // the first question encodes the video, the second finds its features cached
    assertThat(level.get("feature_cache_hit_ratio").asDouble()).isEqualTo(0.5);
  }

  @Test
  void evalRunsATvgSetThroughTheServerWritesPredictionsAndResumesAfterAKill() throws Exception {
    Path videos = Files.createDirectories(dir.resolve("tvg-videos"));
    for (int i = 0; i < 3; i++) {
      MediaTestFiles.movingSquare(videos.resolve("V" + i + ".mp4"), 64, 48, 20 + 5 * i, 10);
    }
    Path ann =
        Files.writeString(
            dir.resolve("charades_test.txt"),
            "V0 0.5 1.5##the square moves right.\n"
                + "V1 0.0 2.0##the square stops.\nV2 1.0 2.4##the square turns.\nV9 0.0 1.0##a video that is not there.\n");
    Path preds = dir.resolve("tvg.jsonl");
    long before = started("Generate");
    Result first =
        cli(
            "",
            "eval",
            "--format",
            "charades",
            "--annotations",
            ann.toString(),
            "--media-dir",
            videos.toString(),
            "--predictions",
            preds.toString(),
            "--max-new-tokens",
            "12",
            "--concurrency",
            "2",
            "--limit",
            "2",
            "--constrain",
            "task-shape");
    assertThat(first.code()).as(first.err()).isZero();
    List<String> lines = Files.readAllLines(preds);
    assertThat(lines).hasSize(2);
    JsonNode p =
        JSON.readTree(lines.get(0).contains("\"V0#1\"") ? lines.get(0) : lines.get(1)); // any order
    assertThat(p.get("id").asText()).isEqualTo("V0#1");
    assertThat(p.get("status").asText()).isEqualTo("ok");
    assertThat(p.get("token_ids")).isNotEmpty();
    JsonNode span = p.get("coordinates").get(0); // the TVG shape guarantees one span
    assertThat(span.get("type").asText()).isEqualTo("span");
    // bin k is sampled frame rint(k / 99 * 19) of the 20-frame clip at 10 fps
    assertThat(span.at("/start/seconds").asDouble())
        .isCloseTo(Math.rint(span.at("/start/normalized").asDouble() * 19) / 10.0, within(1e-6));
    // A kill in the middle of writing the third line leaves half a line.
    Files.writeString(preds, String.join("\n", lines) + "\n{\"id\":\"V2#3\",\"sta");
    Result second =
        cli(
            "",
            "eval",
            "--format",
            "charades",
            "--annotations",
            ann.toString(),
            "--media-dir",
            videos.toString(),
            "--predictions",
            preds.toString(),
            "--max-new-tokens",
            "12",
            "--constrain",
            "task-shape",
            "--out",
            dir.resolve("tvg-report.json").toString(),
            "--plot",
            dir.resolve("tvg.png").toString());
    assertThat(second.code()).as(second.err()).isZero();
    System.out.println(second.out());
    List<String> after = Files.readAllLines(preds);
    assertThat(after)
        .hasSize(4)
        .startsWith(lines.get(0), lines.get(1)); // two asked again, none twice
    assertThat(started("Generate") - before)
        .isEqualTo(3); // V0, V1, then only V2: V9's file is missing
    Map<String, String> status = new java.util.HashMap<>();
    for (String line : after) {
      JsonNode j = JSON.readTree(line);
      status.put(j.get("id").asText(), j.get("status").asText());
    }
    assertThat(status).containsEntry("V2#3", "ok").containsEntry("V9#4", "missing_media");
    assertThat(second.out())
        .contains(DemoCheckpoint.MODEL_NAME)
        .contains("RANDOM-WEIGHT DEMO")
        .contains("TVG: 3 samples, 0 unparseable")
        .contains("1 missing media")
        .contains("R@1,IoU>0.5")
        .contains("R@1,IoU>=0.5");
    JsonNode report = JSON.readTree(dir.resolve("tvg-report.json").toFile());
    assertThat(report.at("/model/random_weights_demo").asBoolean()).isTrue();
    assertThat(report.at("/tasks/0/llava_st/mIoU").asDouble()).isBetween(0.0, 1.0);
    assertThat(Files.size(dir.resolve("tvg.png"))).isPositive();
  }

  @Test
  void evalScoresARecSetInBothConventions() throws Exception {
    Path images = Files.createDirectories(dir.resolve("rec-images"));
    StringBuilder imgs = new StringBuilder();
    StringBuilder anns = new StringBuilder();
    for (int i = 0; i < 3; i++) {
      Files.write(
          images.resolve("i" + i + ".png"), MediaTestFiles.png(IMAGE_W, IMAGE_H, 60 * i, 100, 200));
      imgs.append(i == 0 ? "" : ",")
          .append("{\"id\":")
          .append(i)
          .append(",\"file_name\":\"i")
          .append(i)
          .append(".png\",\"height\":")
          .append(IMAGE_H)
          .append(",\"width\":")
          .append(IMAGE_W)
          .append(",\"caption\":\"the blue patch\"}");
      anns.append(i == 0 ? "" : ",")
          .append("{\"id\":")
          .append(i)
          .append(",\"bbox\":[10,10,40,30]}");
    }
    Path ann =
        Files.writeString(
            dir.resolve("refcoco_val.json"),
            "{\"images\":[" + imgs + "],\"annotations\":[" + anns + "]}");
    Result r =
        cli(
            "",
            "eval",
            "--format",
            "refcoco",
            "--annotations",
            ann.toString(),
            "--media-dir",
            images.toString(),
            "--predictions",
            dir.resolve("rec.jsonl").toString(),
            "--max-new-tokens",
            "12",
            "--constrain",
            "task-shape");
    assertThat(r.code()).as(r.err()).isZero();
    System.out.println(r.out());
    assertThat(r.out())
        .contains("REC: 3 samples, 0 unparseable")
        .contains("R1@0.5")
        .contains("ACC@0.5")
        .contains("Center_ACC");
    Result bad =
        cli(
            "",
            "eval",
            "--format",
            "refcoco",
            "--annotations",
            dir.resolve("charades_missing.json").toString(),
            "--media-dir",
            images.toString());
    assertThat(bad.code()).isNotZero();
  }
}

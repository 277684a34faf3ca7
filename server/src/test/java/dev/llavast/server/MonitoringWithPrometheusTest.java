package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.llavast.api.v1.Constraints;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.Task;
import dev.llavast.server.media.MediaTestFiles;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitoring kit proven against a real Prometheus (Debian's package, installed here when the
 * test runs as root and it is missing; skipped otherwise): the server runs on the tiny checkpoint
 * under a small load through both doors while Prometheus scrapes it every second, then every
 * dashboard expression and every alert expression (its threshold turned into a {@code bool}
 * comparison, so a quiet system still answers) must return data; {@code promtool check rules} and
 * {@code promtool check metrics} must pass.
 */
@Tag("slow")
@Timeout(900)
class MonitoringWithPrometheusTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path MONITORING = Path.of("../k8s/monitoring");
  private static final Pattern THRESHOLD = Pattern.compile("(==|!=|>=|<=|>|<)\\s*(-?[0-9][0-9.]*)");

  @TempDir Path dir;

  @Test
  void everyDashboardAndAlertExpressionReturnsDataInARealPrometheus() throws Exception {
    Assumptions.assumeTrue(
        ensureInstalled(), "Debian's prometheus package is not installed and cannot be");
    Path rules = dir.resolve("rules.yaml");
    Files.writeString(
        rules, plainRules(Files.readString(MONITORING.resolve("prometheus-rules.yaml"))));
    run(List.of("promtool", "check", "rules", rules.toString()), null);

    Path ckpt = E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 41);
    try (E2eClient server =
        E2eClient.start(
            E2eClient.config(ckpt, "cpu", 64, 64 << 20, 0, 16), Duration.ofMinutes(3))) {
      int promPort = freePort();
      Files.writeString(
          dir.resolve("prometheus.yml"),
          "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
              + "rule_files: ["
              + rules
              + "]\n"
              + "scrape_configs:\n  - job_name: llavast\n    static_configs: [{targets: ['127.0.0.1:"
              + server.serving.server().metricsPort()
              + "']}]\n");
      Process prom =
          new ProcessBuilder(
                  "prometheus",
                  "--config.file=" + dir.resolve("prometheus.yml"),
                  "--storage.tsdb.path=" + dir.resolve("tsdb"),
                  "--web.listen-address=127.0.0.1:" + promPort)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("prometheus.log").toFile())
              .start();
      try {
        String api = "http://127.0.0.1:" + promPort + "/api/v1/";
        awaitUp(api);
        load(server);
        Thread.sleep(15_000); // a few scrapes after the load, for rate() windows
        run(List.of("promtool", "check", "metrics"), server.scrapeMetrics());

        Map<String, String> checks = new LinkedHashMap<>();
        JsonNode dash = JSON.readTree(MONITORING.resolve("grafana-dashboard.json").toFile());
        dash.get("panels")
            .forEach(
                p ->
                    p.get("targets")
                        .forEach(
                            t ->
                                checks.put(
                                    "panel '"
                                        + p.get("title").asText()
                                        + "' "
                                        + t.get("legendFormat").asText(),
                                    grafana(t.get("expr").asText()))));
        dash.at("/templating/list")
            .forEach(
                v -> {
                  if (v.has("definition")) {
                    String def = v.get("definition").asText();
                    checks.put(
                        "variable " + v.get("name").asText(),
                        grafana(def.substring(def.indexOf('(') + 1, def.lastIndexOf(','))));
                  }
                });
        JsonNode groups = get(api + "rules").at("/data/groups");
        groups.forEach(
            g ->
                g.get("rules")
                    .forEach(
                        r ->
                            checks.put(
                                "alert " + r.get("name").asText(),
                                THRESHOLD
                                    .matcher(r.get("query").asText())
                                    .replaceAll("$1 bool $2"))));
        assertThat(checks.keySet().stream().filter(k -> k.startsWith("alert ")))
            .hasSizeGreaterThanOrEqualTo(7);
        List<String> failed = new ArrayList<>();
        for (Map.Entry<String, String> c : checks.entrySet()) {
          JsonNode r =
              get(api + "query?query=" + URLEncoder.encode(c.getValue(), StandardCharsets.UTF_8));
          boolean ok =
              "success".equals(r.path("status").asText()) && !r.at("/data/result").isEmpty();
          System.out.printf("%-4s %s: %s%n", ok ? "ok" : "FAIL", c.getKey(), c.getValue());
          if (!ok) {
            failed.add(c.getKey() + " -> " + r);
          }
        }
        assertThat(failed).as("expressions without data").isEmpty();
      } finally {
        prom.destroy();
        prom.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /** A dashboard expression as Grafana would send it with every variable set to All. */
  private static String grafana(String expr) {
    return expr.replace("$__rate_interval", "1m").replace("$pod", ".*").replace("$worker", ".*");
  }

  /** The PrometheusRule's {@code spec} as a plain rules file. */
  static String plainRules(String prometheusRule) {
    String spec =
        prometheusRule.substring(prometheusRule.indexOf("\nspec:\n") + "\nspec:\n".length());
    StringBuilder out = new StringBuilder();
    for (String line : spec.split("\n")) {
      out.append(line.startsWith("  ") ? line.substring(2) : line).append('\n');
    }
    return out.toString();
  }

  /** Questions through gRPC (new video, repeats, a constrained one, a failure) and the HTTP API. */
  private static void load(E2eClient server) throws Exception {
    byte[] mp4 =
        Files.readAllBytes(
            MediaTestFiles.movingSquare(Files.createTempFile("load", ".mp4"), 64, 48, 30, 10));
    MediaInfo video = server.upload(MediaKind.MEDIA_KIND_VIDEO, mp4, "load.mp4");
    var stub = GenerationServiceGrpc.newBlockingStub(server.channel);
    for (int i = 0; i < 6; i++) {
      stub.withDeadlineAfter(2, TimeUnit.MINUTES)
          .generate(
              GenerateRequest.newBuilder()
                  .setMedia(MediaRef.newBuilder().setMediaId(video.getMediaId()))
                  .setPrompt(Prompt.newBuilder().setText("Question " + i + ": when does it move?"))
                  .setTask(i == 0 ? Task.TASK_TVG : Task.TASK_FREE_FORM)
                  .setSampling(
                      SamplingParams.newBuilder()
                          .setMaxNewTokens(16)
                          .setConstraints(
                              i == 0
                                  ? Constraints.CONSTRAINTS_TASK_SHAPE
                                  : Constraints.CONSTRAINTS_OFF))
                  .build());
    }
    try {
      stub.withDeadlineAfter(1, TimeUnit.MINUTES)
          .generate(
              GenerateRequest.newBuilder()
                  .setMedia(MediaRef.newBuilder().setMediaId("sha256:" + "0".repeat(64)))
                  .setPrompt(Prompt.newBuilder().setText("nothing"))
                  .build());
    } catch (io.grpc.StatusRuntimeException expected) {
      // MEDIA_NOT_FOUND: a failure for the error panels
    }
    String body =
        "{\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
            + "{\"type\":\"video_url\",\"video_url\":{\"url\":\"data:video/mp4;base64,"
            + Base64.getEncoder().encodeToString(mp4)
            + "\"}}]}]}";
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:"
                                + server.serving.http().port()
                                + "/v1/chat/completions"))
                    .header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private static JsonNode get(String url) throws Exception {
    return JSON.readTree(
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString())
            .body());
  }

  private static void awaitUp(String api) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        if (get(api + "status/buildinfo").path("status").asText().equals("success")) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      if (System.nanoTime() > end) {
        throw new IllegalStateException("Prometheus did not start within 60 s");
      }
      Thread.sleep(200);
    }
  }

  /** Runs a command (with {@code stdin} if given) and requires exit 0. */
  private static void run(List<String> command, String stdin) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    if (stdin != null) {
      p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    System.out.println(String.join(" ", command) + ": " + out.strip());
    assertThat(p.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
  }

  /** Whether prometheus and promtool are on the PATH, installing Debian's package when root can. */
  private static boolean ensureInstalled() throws Exception {
    if (onPath("prometheus") && onPath("promtool")) {
      return true;
    }
    if (!"root".equals(System.getProperty("user.name")) || !onPath("apt-get")) {
      return false;
    }
    for (List<String> step :
        List.of(
            List.of("apt-get", "update"),
            List.of("apt-get", "install", "-y", "--no-install-recommends", "prometheus"))) {
      Process p =
          new ProcessBuilder(step)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        return false;
      }
    }
    return onPath("prometheus") && onPath("promtool");
  }

  private static boolean onPath(String tool) {
    for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return true;
      }
    }
    return false;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}

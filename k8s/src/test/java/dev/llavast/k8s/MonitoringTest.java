package dev.llavast.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.server.ServerConfig;
import dev.llavast.server.Serving;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * The monitoring kit against the real server: every metric the Grafana dashboard and the alert
 * rules query is one the server exposes on {@code /metrics} (read from a running server on the demo
 * model), the sidecar ConfigMap carries the dashboard file unchanged, and every alert has a summary
 * and a runbook section in the README. (The slow {@code MonitoringWithPrometheusTest} in the server
 * module evaluates every expression in a real Prometheus.)
 */
@Timeout(300)
class MonitoringTest {
  static final Path DASHBOARD = Path.of("monitoring/grafana-dashboard.json");
  static final Path DASHBOARD_CM = Path.of("monitoring/grafana-dashboard-configmap.yaml");
  static final Path RULES = Path.of("monitoring/prometheus-rules.yaml");

  /**
   * A metric name inside a PromQL expression (label names, functions and keywords are not followed
   * by these).
   */
  private static final Pattern METRIC =
      Pattern.compile("\\b([a-z_][a-z0-9_]*)\\s*(?=\\{|\\[|\\)|$| offset)");

  private static final Set<String> NOT_METRICS =
      Set.of(
          "sum",
          "rate",
          "max",
          "min",
          "count",
          "time",
          "vector",
          "or",
          "and",
          "bool",
          "histogram_quantile",
          "label_values",
          "pod",
          "worker");

  static Serving serving;
  static Set<String> exposed;

  @BeforeAll
  static void start() throws Exception {
    serving = Serving.start(ServerConfig.defaults().withEphemeralPorts());
    // One call through each door, so that the per-call counters have their first series.
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", serving.server().port())
            .usePlaintext()
            .build();
    try {
      HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService(ServerConfig.LIVENESS_SERVICE).build());
    } finally {
      channel.shutdownNow();
    }
    HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + serving.http().port() + "/health"))
                .build(),
            HttpResponse.BodyHandlers.discarding());
    String text =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:"
                                + serving.server().metricsPort()
                                + ServerConfig.METRICS_PATH))
                    .timeout(Duration.ofSeconds(30))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    exposed = new TreeSet<>();
    Matcher m = Pattern.compile("(?m)^# TYPE (\\S+) (\\S+)").matcher(text);
    while (m.find()) {
      String name = m.group(1);
      exposed.add(name);
      if (m.group(2).equals("histogram")) {
        exposed.add(name + "_bucket");
        exposed.add(name + "_sum");
        exposed.add(name + "_count");
      }
      if (m.group(2).equals("counter") && !name.endsWith("_total")) {
        exposed.add(name + "_total");
      }
    }
  }

  @AfterAll
  static void stop() {
    if (serving != null) {
      serving.close();
    }
  }

  static List<String> dashboardExpressions() throws Exception {
    JsonNode d = Yaml.MAPPER.readTree(Files.readString(Variant.moduleDir().resolve(DASHBOARD)));
    List<String> exprs = new ArrayList<>();
    d.get("panels").forEach(p -> p.get("targets").forEach(t -> exprs.add(t.get("expr").asText())));
    d.at("/templating/list")
        .forEach(
            v -> {
              if (v.has("definition")) {
                exprs.add(v.get("definition").asText());
              }
            });
    return exprs;
  }

  static List<JsonNode> rules() {
    JsonNode rule = Yaml.readOne(Yaml.read(Variant.moduleDir().resolve(RULES)), RULES.toString());
    List<JsonNode> out = new ArrayList<>();
    rule.at("/spec/groups").forEach(g -> g.get("rules").forEach(out::add));
    return out;
  }

  static Set<String> metricNames(String expr) {
    Set<String> names = new TreeSet<>();
    String bare =
        expr.replaceAll("\"[^\"]*\"", "\"\"") // label values
            .replaceAll("\\b(by|on|without|ignoring)\\s*\\([^)]*\\)", ""); // grouping label lists
    Matcher m = METRIC.matcher(bare);
    while (m.find()) {
      if (!NOT_METRICS.contains(m.group(1))) {
        names.add(m.group(1));
      }
    }
    return names;
  }

  @Test
  void everyMetricTheDashboardAndTheAlertsQueryIsExposedByTheServer() throws Exception {
    Set<String> used = new TreeSet<>();
    dashboardExpressions().forEach(e -> used.addAll(metricNames(e)));
    rules().forEach(r -> used.addAll(metricNames(r.get("expr").asText())));
    assertThat(used)
        .contains(
            "llavast_time_to_first_token_seconds_bucket",
            "grpc_server_handled_total",
            "llavast_kv_cache_usage_ratio",
            "process_start_time_seconds");
    assertThat(exposed).as("metrics on /metrics").containsAll(used);
  }

  @Test
  void theDashboardHasTheDatasourcePodAndWorkerVariablesAndEveryPanelUsesThem() throws Exception {
    JsonNode d = Yaml.MAPPER.readTree(Files.readString(Variant.moduleDir().resolve(DASHBOARD)));
    List<String> vars = new ArrayList<>();
    d.at("/templating/list").forEach(v -> vars.add(v.get("name").asText()));
    assertThat(vars).containsExactly("datasource", "pod", "worker");
    d.get("panels")
        .forEach(
            p -> {
              assertThat(p.at("/datasource/uid").asText()).isEqualTo("${datasource}");
              p.get("targets")
                  .forEach(
                      t ->
                          assertThat(t.get("expr").asText())
                              .as(p.get("title").asText())
                              .contains("pod=~\"$pod\""));
            });
    assertThat(d.get("panels")).hasSizeGreaterThanOrEqualTo(14);
  }

  @Test
  void theSidecarConfigMapCarriesTheDashboardUnchanged() throws Exception {
    JsonNode cm =
        Yaml.readOne(Yaml.read(Variant.moduleDir().resolve(DASHBOARD_CM)), DASHBOARD_CM.toString());
    assertThat(cm.at("/metadata/labels/grafana_dashboard").asText()).isEqualTo("1");
    assertThat(Yaml.MAPPER.readTree(cm.at("/data/llavast-serve.json").asText()))
        .isEqualTo(Yaml.MAPPER.readTree(Files.readString(Variant.moduleDir().resolve(DASHBOARD))));
  }

  @Test
  void everyAlertHasASummaryAndARunbookInTheReadme() throws Exception {
    String readme = Files.readString(Variant.moduleDir().resolve("../README.md"));
    List<JsonNode> rules = rules();
    assertThat(rules).hasSizeGreaterThanOrEqualTo(7);
    for (JsonNode r : rules) {
      String alert = r.get("alert").asText();
      assertThat(r.at("/annotations/summary").asText()).as(alert).isNotBlank();
      assertThat(r.at("/annotations/runbook").asText())
          .isEqualTo("README.md#" + alert.toLowerCase());
      assertThat(readme).as("runbook of " + alert).contains("#### " + alert);
    }
  }
}

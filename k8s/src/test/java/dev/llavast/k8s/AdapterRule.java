package dev.llavast.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;

/**
 * The prometheus-adapter rules shipped in k8s/monitoring (not part of any kustomization: the
 * adapter owns its config). Any thread.
 */
record AdapterRule(ConfigMap configMap, JsonNode config) {
  static final Path FILE = Path.of("monitoring/prometheus-adapter-rules.yaml");

  static AdapterRule load() {
    Path file = Variant.moduleDir().resolve(FILE);
    ConfigMap cm =
        Manifests.parse(Yaml.readOne(Yaml.read(file), file.toString())).as(ConfigMap.class);
    if (!Manifests.unknownFields(cm).isEmpty()) {
      throw new AssertionError(file + ": unknown fields " + Manifests.unknownFields(cm));
    }
    return new AdapterRule(
        cm, Yaml.readOne(cm.getData().get("config.yaml"), file + " config.yaml"));
  }

  /**
   * The custom-metric names the rules publish for pods: for each rule that maps the namespace and
   * pod labels to those resources, the series name rewritten by {@code name.matches}/{@code as}.
   */
  List<String> publishedNames() {
    List<String> names = new ArrayList<>();
    for (JsonNode rule : config.path("rules")) {
      JsonNode overrides = rule.path("resources").path("overrides");
      if (!"pod".equals(overrides.path("pod").path("resource").asString(""))
          || !"namespace".equals(overrides.path("namespace").path("resource").asString(""))) {
        continue;
      }
      var series =
          Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{")
              .matcher(rule.path("seriesQuery").asString(""));
      if (!series.find()) {
        continue;
      }
      String metric = series.group(1);
      var renamed =
          Pattern.compile(rule.path("name").path("matches").asString("^(.*)$")).matcher(metric);
      if (renamed.find()) {
        names.add(renamed.replaceFirst(rule.path("name").path("as").asString("$0")));
      }
      if (!rule.path("metricsQuery").asString("").contains("<<.Series>>")) {
        throw new AssertionError(
            "metricsQuery of the rule for " + metric + " does not query <<.Series>>");
      }
    }
    return names;
  }
}

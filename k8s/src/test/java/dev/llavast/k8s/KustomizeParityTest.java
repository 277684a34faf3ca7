package dev.llavast.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Where {@code kubectl} is installed, the test renderer ({@link Kustomize}) must produce exactly
 * what {@code kubectl kustomize} produces for our variants, up to the content-hash suffix that
 * kustomize adds to generated ConfigMap names. Skipped where kubectl is absent: the manifests test
 * itself needs nothing outside Maven.
 */
@EnabledIf("kubectlAvailable")
class KustomizeParityTest {
  static boolean kubectlAvailable() {
    try {
      Process p =
          new ProcessBuilder("kubectl", "version", "--client").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @ParameterizedTest
  @MethodSource("dev.llavast.k8s.ManifestsTest#variants")
  void testRendererMatchesKubectlKustomize(String dir) throws Exception {
    Path out = Files.createTempFile("kustomize", ".yaml");
    try {
      Process p =
          new ProcessBuilder("kubectl", "kustomize", Variant.moduleDir().resolve(dir).toString())
              .redirectOutput(out.toFile())
              .redirectErrorStream(false)
              .start();
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS))
          .as("kubectl kustomize finished within 60 s")
          .isTrue();
      assertThat(p.exitValue()).as("kubectl kustomize %s: %s", dir, err).isZero();
      Map<String, JsonNode> real =
          byId(Yaml.readAll(Yaml.read(out), "kubectl kustomize " + dir), true);
      Map<String, JsonNode> ours =
          byId(List.copyOf(Kustomize.render(Variant.moduleDir().resolve(dir))), false);
      assertThat(ours.keySet()).isEqualTo(real.keySet());
      for (String id : real.keySet()) {
        assertThat(ours.get(id)).as("%s: %s", dir, id).isEqualTo(real.get(id));
      }
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /**
   * Resources by kind/namespace/name; kustomize's hash suffixes removed from names and references.
   */
  private static Map<String, JsonNode> byId(List<JsonNode> docs, boolean stripHashes) {
    Map<String, JsonNode> out = new TreeMap<>();
    for (JsonNode d : docs) {
      JsonNode doc = d;
      if (stripHashes) {
        String text =
            Yaml.MAPPER
                .writeValueAsString(d)
                .replaceAll("(llavast-server-flags|llavast-envoy-config)-[a-z0-9]{10}\\b", "$1");
        doc = Yaml.readOne(text, "normalized");
      }
      ObjectNode meta = (ObjectNode) doc.path("metadata");
      out.put(
          doc.path("kind").asString()
              + "/"
              + meta.path("namespace").asString("")
              + "/"
              + meta.path("name").asString(),
          doc);
    }
    return out;
  }
}

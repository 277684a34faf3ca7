package dev.llavast.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** The checks the manifests test relies on catch what they claim to catch. */
class CheckersTest {
  private static final String DEPLOYMENT =
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: d}
      spec:
        selector: {matchLabels: {app: a}}
        template:
          metadata: {labels: {app: a}}
          spec:
            containers:
              - name: c
                image: x:1.0
                ports: [{containerPort: 80, name: http}]
                env: [{name: A, value: "1"}, {name: B, value: "2"}]
                volumeMounts: [{name: v, mountPath: /v}]
                args: ["--one"]
              - name: side
                image: y:1.0
            volumes: [{name: v, emptyDir: {}}]
            tolerations: [{key: k1, operator: Exists}]
      """;

  @Test
  void unknownFieldsAreReportedWithTheirPath() {
    // "containerPorts" is not a Container field; "replica" is not a DeploymentSpec field.
    JsonNode tree =
        Yaml.readOne(
            DEPLOYMENT
                .replace("ports: [", "containerPorts: [")
                .replace("  selector:", "  replica: 3\n  selector:"),
            "typo");
    Deployment d = Manifests.parse(tree).as(Deployment.class);
    assertThat(Manifests.unknownFields(d))
        .containsExactlyInAnyOrder(
            ".spec.replica", ".spec.template.spec.containers[0].containerPorts");
    assertThat(Manifests.unknownFields(Manifests.parse(Yaml.readOne(DEPLOYMENT, "ok")).typed()))
        .isEmpty();
  }

  @Test
  void deprecatedOrUnknownApiVersionsAreRefused() {
    String hpaV1 =
        "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n";
    assertThatThrownBy(() -> Manifests.parse(Yaml.readOne(hpaV1, "v1")))
        .hasMessageContaining("autoscaling/v1/HorizontalPodAutoscaler");
    String pdbBeta = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\n";
    assertThatThrownBy(() -> Manifests.parse(Yaml.readOne(pdbBeta, "beta")))
        .hasMessageContaining("policy/v1beta1");
  }

  @Test
  void keySchemaReportsUnknownKeysWrongTypesAndUnknownTypeUrls() {
    JsonNode schema =
        Yaml.readOne(
            """
        a: {b: number, c: [string], "@x": any}
        m: {"*": string}
        t: {"@typed": {"type/T": {k: boolean}}}
        """,
            "schema");
    JsonNode good =
        Yaml.readOne("{a: {b: 1, c: [x, y]}, m: {any: v}, t: {'@type': type/T, k: true}}", "good");
    assertThat(KeySchema.violations(good, schema)).isEmpty();
    JsonNode bad =
        Yaml.readOne("{a: {b: one, c: [x], d: 2}, m: {k: 3}, t: {'@type': type/U}}", "bad");
    assertThat(KeySchema.violations(bad, schema))
        .containsExactlyInAnyOrder(
            ".a.b: expected a number, got STRING \"one\"",
            ".a.d: unknown field (allowed: [b, c, @x])",
            ".m.k: expected a string, got NUMBER 3",
            ".t: @type 'type/U' is not one of [type/T]");
  }

  @Test
  void envoySchemaCatchesATypoInTheHashPolicy() {
    Path file = Variant.moduleDir().resolve("base/envoy/envoy.yaml");
    String typo = Yaml.read(file).replace("header_name: x-media-id", "header_nme: x-media-id");
    EnvoyConfig config = new EnvoyConfig(Yaml.readOne(typo, "typo"));
    assertThat(config.schemaViolations())
        .singleElement()
        .asString()
        .contains("header_nme: unknown field");
    assertThat(new EnvoyConfig(Yaml.readOne(Yaml.read(file), "ok")).schemaViolations()).isEmpty();
  }

  @Test
  void strategicMergeMergesListsByTheirKubernetesMergeKeysAndReplacesTheRest() {
    ObjectNode base = (ObjectNode) Yaml.readOne(DEPLOYMENT, "base");
    ObjectNode patch =
        (ObjectNode)
            Yaml.readOne(
                """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          template:
            spec:
              containers:
                - name: c
                  env: [{name: B, value: "20"}, {name: C, value: "3"}]
                  volumeMounts: [{name: w, mountPath: /w}]
                  args: ["--two"]
                  resources: {limits: {nvidia.com/gpu: "1"}}
              volumes: [{name: w, persistentVolumeClaim: {claimName: pvc}}]
              tolerations: [{key: k2, operator: Exists}]
        """,
                "patch");
    JsonNode out = StrategicMerge.merge(base, patch);
    JsonNode spec = out.path("spec").path("template").path("spec");
    JsonNode c = spec.path("containers").get(0);
    // env merges by name: the patch's items first (B replaced, C added), then the base's others
    // (A),
    // the order kubectl kustomize produces.
    assertThat(c.path("env").toString())
        .isEqualTo(
            "[{\"name\":\"B\",\"value\":\"20\"},{\"name\":\"C\",\"value\":\"3\"},"
                + "{\"name\":\"A\",\"value\":\"1\"}]");
    assertThat(names(c.path("volumeMounts"), "mountPath")).containsExactly("/w", "/v");
    assertThat(c.path("args").toString()).isEqualTo("[\"--two\"]"); // no merge key: replaced
    assertThat(c.path("image").asString()).isEqualTo("x:1.0"); // untouched fields stay
    assertThat(c.path("resources").path("limits").path("nvidia.com/gpu").asString()).isEqualTo("1");
    assertThat(names(spec.path("containers"), "name"))
        .containsExactly("c", "side"); // the sidecar stays
    assertThat(spec.path("volumes").size()).isEqualTo(2);
    assertThat(spec.path("tolerations").toString())
        .isEqualTo("[{\"key\":\"k2\",\"operator\":\"Exists\"}]");
    assertThat(base.path("spec").path("template").path("spec").path("volumes").size())
        .as("base unchanged")
        .isEqualTo(1);
    // A null deletes a key; directives are refused.
    ObjectNode delete = (ObjectNode) Yaml.readOne("spec: {selector: null}", "delete");
    assertThat(StrategicMerge.merge(base, delete).path("spec").has("selector")).isFalse();
    ObjectNode directive = (ObjectNode) Yaml.readOne("spec: {$patch: replace}", "directive");
    assertThatThrownBy(() -> StrategicMerge.merge(base, directive)).hasMessageContaining("$patch");
  }

  private static List<String> names(JsonNode list, String field) {
    List<String> out = new java.util.ArrayList<>();
    list.forEach(item -> out.add(item.path(field).asString()));
    return out;
  }

  @Test
  void kustomizeRendersBasesGeneratorsPatchesImagesAndNamespace(@TempDir Path dir)
      throws Exception {
    Path base = Files.createDirectories(dir.resolve("base"));
    Files.writeString(base.resolve("d.yaml"), DEPLOYMENT);
    Files.writeString(base.resolve("flags"), "--a=1\n");
    Files.writeString(
        base.resolve("kustomization.yaml"),
        """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        namespace: ns
        resources: [d.yaml]
        configMapGenerator: [{name: cm, files: [flags]}]
        """);
    Path overlay = Files.createDirectories(dir.resolve("overlay"));
    Files.writeString(overlay.resolve("flags"), "--a=2\n");
    Files.writeString(
        overlay.resolve("p.yaml"),
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec: {replicas: 3}
        """);
    Files.writeString(
        overlay.resolve("kustomization.yaml"),
        """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [../base]
        configMapGenerator: [{name: cm, namespace: ns, behavior: replace, files: [args=flags]}]
        patches: [{path: p.yaml}]
        images: [{name: x, newName: reg/x, newTag: "2.0"}]
        """);
    List<ObjectNode> out = Kustomize.render(overlay);
    assertThat(out)
        .extracting(r -> r.path("kind").asString())
        .containsExactly("Deployment", "ConfigMap");
    assertThat(out).allMatch(r -> r.path("metadata").path("namespace").asString().equals("ns"));
    JsonNode d = out.get(0);
    assertThat(d.path("spec").path("replicas").asInt()).isEqualTo(3);
    assertThat(
            d.path("spec")
                .path("template")
                .path("spec")
                .path("containers")
                .get(0)
                .path("image")
                .asString())
        .isEqualTo("reg/x:2.0");
    assertThat(
            d.path("spec")
                .path("template")
                .path("spec")
                .path("containers")
                .get(1)
                .path("image")
                .asString())
        .isEqualTo("y:1.0");
    assertThat(out.get(1).path("data").toString()).isEqualTo("{\"args\":\"--a=2\\n\"}");

    // Anything the renderer does not implement is refused, not ignored.
    Files.writeString(
        overlay.resolve("kustomization.yaml"),
        """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [../base]
        replicas: [{name: d, count: 5}]
        """);
    assertThatThrownBy(() -> Kustomize.render(overlay))
        .hasMessageContaining("'replicas' is not supported");
  }

  @Test
  void imageNameStripsTagAndDigestButNotARegistryPort() {
    assertThat(Kustomize.imageName("envoyproxy/envoy:v1.37.0")).isEqualTo("envoyproxy/envoy");
    assertThat(Kustomize.imageName("reg:5000/a/b")).isEqualTo("reg:5000/a/b");
    assertThat(Kustomize.imageName("reg:5000/a/b:1.2@sha256:00")).isEqualTo("reg:5000/a/b");
  }

  @Test
  void pinnedImagesAreRecognised() {
    ManifestsTest.assertPinned("envoyproxy/envoy:v1.37.0", "tag");
    ManifestsTest.assertPinned("a/b@sha256:" + "0".repeat(64), "digest");
    for (String floating :
        List.of("a/b", "a/b:latest", "a/b:v1.31-latest", "reg:5000/a/b", "a/b:main")) {
      assertThatThrownBy(() -> ManifestsTest.assertPinned(floating, floating))
          .isInstanceOf(AssertionError.class);
    }
  }

  @Test
  void jvmSizesParse() {
    assertThat(ManifestsTest.jvmSize("-Xms2g -Xmx2g -XX:MaxDirectMemorySize=512m", "-Xmx"))
        .isEqualTo(2L << 30);
    assertThat(
            ManifestsTest.jvmSize(
                "-Xmx2g -XX:MaxDirectMemorySize=512m", "-XX:MaxDirectMemorySize="))
        .isEqualTo(512L << 20);
    assertThat(ManifestsTest.jvmSize("-Xmx1048576", "-Xmx")).isEqualTo(1L << 20);
  }
}

package dev.llavast.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** k8s/Dockerfile: pinned JRE 17 base, the server jar Maven builds, the uid the pods run as. */
class DockerfileTest {
  private static final Path DOCKERFILE = Variant.moduleDir().resolve("Dockerfile");

  private static List<String> instructions() {
    // Join continuation lines, drop comments and blanks.
    String text = Yaml.read(DOCKERFILE).replaceAll("\\\\\\n", " ");
    return text.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
  }

  @Test
  void baseImageIsAPinnedJre17() {
    List<String> from = instructions().stream().filter(l -> l.startsWith("FROM ")).toList();
    assertThat(from).hasSize(1);
    String image = from.get(0).substring(5).strip().split("\\s+")[0];
    assertThat(image).startsWith("eclipse-temurin:17.").contains("-jre");
    ManifestsTest.assertPinned(image, "Dockerfile FROM");
  }

  @Test
  void copiesTheShadedServerJarAndRunsItAsTheDeploymentsNonRootUser() {
    List<String> lines = instructions();
    // The jar the server module's shade plugin writes without -Pcuda (server/pom.xml).
    assertThat(ServerPom.load().jarName(false)).isEqualTo("llavast-server");
    assertThat(lines)
        .anyMatch(l -> l.matches("COPY\\s+server/target/llavast-server\\.jar\\s+\\S+"));
    String copyTarget =
        lines.stream()
            .filter(l -> l.startsWith("COPY "))
            .findFirst()
            .orElseThrow()
            .split("\\s+")[2];
    assertThat(lines)
        .anyMatch(
            l ->
                l.startsWith("ENTRYPOINT")
                    && l.contains("\"-jar\"")
                    && l.contains("\"" + copyTarget + "\""));

    List<String> users = lines.stream().filter(l -> l.startsWith("USER ")).toList();
    assertThat(users).hasSize(1);
    Matcher m = Pattern.compile("USER (\\d+):(\\d+)").matcher(users.get(0));
    assertThat(m.matches()).as(users.get(0)).isTrue();
    long uid = Long.parseLong(m.group(1));
    assertThat(uid).isGreaterThan(0);
    assertThat(lines.indexOf(users.get(0)))
        .as("USER comes after every RUN")
        .isGreaterThan(
            lines.stream()
                .filter(l -> l.startsWith("RUN "))
                .mapToInt(lines::indexOf)
                .max()
                .orElse(-1));
    for (String variant : List.of("overlays/cpu-demo", "overlays/gpu")) {
      Deployment d = Variant.render(variant).serverDeployment();
      var psc = d.getSpec().getTemplate().getSpec().getSecurityContext();
      assertThat(psc.getRunAsUser()).as(variant).isEqualTo(uid);
      assertThat(psc.getRunAsGroup()).as(variant).isEqualTo(Long.parseLong(m.group(2)));
    }
    assertThat(lines).anyMatch(l -> l.contains("DJL_OFFLINE=true"));
  }
}

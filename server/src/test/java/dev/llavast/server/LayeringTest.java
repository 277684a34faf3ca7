package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The server's package picture, read from the sources' imports: the transports ({@code grpc}, the
 * {@code cli}) depend on the core, never the reverse, and nothing below the transport line knows
 * gRPC or the protobuf API types.
 */
class LayeringTest {
  private static final Path ROOT = Path.of("src/main/java/dev/llavast/server");
  private static final Set<String> CORE =
      Set.of("generation", "media", "session", "errors", "observability", "concurrent");
  private static final Set<String> TRANSPORTS = Set.of("grpc", "cli");
  private static final Pattern IMPORT = Pattern.compile("^import (?:static )?([\\w.]+)", Pattern.MULTILINE);

  @Test
  void theCoreImportsNoTransportAndNoGrpc() throws IOException {
    List<String> violations = new ArrayList<>();
    for (String pkg : CORE) {
      for (Path file : sources(ROOT.resolve(pkg))) {
        Matcher m = IMPORT.matcher(Files.readString(file));
        while (m.find()) {
          String imported = m.group(1);
          boolean transport = TRANSPORTS.stream().anyMatch(t -> imported.startsWith("dev.llavast.server." + t + "."));
          boolean grpc = imported.startsWith("io.grpc.") || imported.startsWith("dev.llavast.api.")
              || imported.startsWith("com.google.rpc.") || imported.startsWith("com.google.protobuf.");
          if (transport || grpc) {
            violations.add(ROOT.relativize(file) + " imports " + imported);
          }
        }
      }
    }
    assertThat(violations).as("imports below the transport line").isEmpty();
  }

  @Test
  void theTransportsDoNotImportEachOther() throws IOException {
    List<String> violations = new ArrayList<>();
    for (String pkg : TRANSPORTS) {
      for (Path file : sources(ROOT.resolve(pkg))) {
        Matcher m = IMPORT.matcher(Files.readString(file));
        while (m.find()) {
          String imported = m.group(1);
          for (String other : TRANSPORTS) {
            if (!other.equals(pkg) && imported.startsWith("dev.llavast.server." + other + ".")) {
              violations.add(ROOT.relativize(file) + " imports " + imported);
            }
          }
        }
      }
    }
    assertThat(violations).as("one transport importing another").isEmpty();
  }

  @Test
  void everyPackageIsNamedInThePicture() throws IOException {
    List<String> packages = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(ROOT)) {
      dirs.filter(Files::isDirectory).forEach(d -> packages.add(d.getFileName().toString()));
    }
    assertThat(packages).isNotEmpty().allSatisfy(p -> assertThat(CORE.contains(p) || TRANSPORTS.contains(p))
        .as("package %s is neither core nor transport; place it in LayeringTest and the README layout", p).isTrue());
  }

  private static List<Path> sources(Path dir) throws IOException {
    assertThat(dir).isDirectory();
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(f -> f.toString().endsWith(".java")).toList();
    }
  }
}

package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The server's package picture, read from the sources' imports: the transports ({@code grpc},
 * {@code http}, the {@code cli}) depend on the core, never the reverse, and nothing below the
 * transport line knows gRPC or the protobuf API types. {@code api} (the engine's answers as API
 * messages, shared by the gRPC and HTTP doors) sits between: it may use the core and the API types,
 * never a transport.
 */
class LayeringTest {
  private static final Path ROOT = Path.of("src/main/java/dev/llavast/server");
  private static final Set<String> CORE =
      Set.of("generation", "media", "session", "errors", "observability", "concurrent", "tenancy");
  private static final Set<String> TRANSPORTS = Set.of("grpc", "http", "cli");
  private static final Set<String> SHARED = Set.of("api");
  private static final Pattern IMPORT =
      Pattern.compile("^import (?:static )?([\\w.]+)", Pattern.MULTILINE);

  @Test
  void theCoreImportsNoTransportAndNoGrpc() throws IOException {
    assertThat(
            imports(
                CORE,
                imported ->
                    inAny(imported, TRANSPORTS)
                        || inAny(imported, SHARED)
                        || imported.startsWith("io.grpc.")
                        || imported.startsWith("dev.llavast.api.")
                        || imported.startsWith("com.google.rpc.")
                        || imported.startsWith("com.google.protobuf.")))
        .as("imports below the transport line")
        .isEmpty();
  }

  @Test
  void theSharedTranslationImportsNoTransport() throws IOException {
    assertThat(imports(SHARED, imported -> inAny(imported, TRANSPORTS))).isEmpty();
  }

  @Test
  void theTransportsDoNotImportEachOther() throws IOException {
    for (String pkg : TRANSPORTS) {
      Set<String> others = new java.util.HashSet<>(TRANSPORTS);
      others.remove(pkg);
      assertThat(imports(Set.of(pkg), imported -> inAny(imported, others)))
          .as("%s importing another transport", pkg)
          .isEmpty();
    }
  }

  /** "file imports name" for every import in {@code packages} that {@code forbidden} selects. */
  private static List<String> imports(Set<String> packages, Predicate<String> forbidden)
      throws IOException {
    List<String> found = new ArrayList<>();
    for (String pkg : packages) {
      for (Path file : sources(ROOT.resolve(pkg))) {
        Matcher m = IMPORT.matcher(Files.readString(file));
        while (m.find()) {
          if (forbidden.test(m.group(1))) {
            found.add(ROOT.relativize(file) + " imports " + m.group(1));
          }
        }
      }
    }
    return found;
  }

  private static boolean inAny(String imported, Set<String> packages) {
    return packages.stream().anyMatch(p -> imported.startsWith("dev.llavast.server." + p + "."));
  }

  @Test
  void everyPackageIsNamedInThePicture() throws IOException {
    List<String> packages = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(ROOT)) {
      dirs.filter(Files::isDirectory).forEach(d -> packages.add(d.getFileName().toString()));
    }
    assertThat(packages)
        .isNotEmpty()
        .allSatisfy(
            p ->
                assertThat(CORE.contains(p) || TRANSPORTS.contains(p) || SHARED.contains(p))
                    .as(
                        "package %s is neither core nor transport; place it in LayeringTest and the README layout",
                        p)
                    .isTrue());
  }

  private static List<Path> sources(Path dir) throws IOException {
    assertThat(dir).isDirectory();
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(f -> f.toString().endsWith(".java")).toList();
    }
  }
}

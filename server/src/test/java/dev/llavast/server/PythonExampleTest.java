package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.server.media.MediaTestFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code examples/python/run.sh} against the real server on loopback (tiny checkpoint, a generated
 * video): stubs generated from the protos, an upload, a streamed answer, a three-question session,
 * and a second run that skips the upload. Needs Python with grpcio/protobuf and protoc with the
 * gRPC plugin (Debian's packages, installed here when the test runs as root; skipped otherwise).
 */
@Tag("slow")
@Timeout(600)
class PythonExampleTest {
  private static final Path SCRIPT =
      Path.of("../examples/python/run.sh").toAbsolutePath().normalize();
  private static final List<String> PACKAGES =
      List.of("protobuf-compiler", "protobuf-compiler-grpc", "python3-grpcio", "python3-protobuf");

  @TempDir Path dir;

  @Test
  void theExampleUploadsStreamsAndRunsASessionAgainstTheRealServer() throws Exception {
    Assumptions.assumeTrue(
        ready(), "python3 with grpcio/protobuf, protoc and grpc_python_plugin are not available");
    Path video = MediaTestFiles.movingSquare(dir.resolve("clip.mp4"), 64, 48, 30, 10);
    try (E2eClient server =
        E2eClient.start(
            E2eClient.config(
                E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 9), "cpu", 16, 64 << 20, 0, 8),
            Duration.ofMinutes(3))) {
      String target = "127.0.0.1:" + server.serving.server().port();
      String first = run(target, video, "When does the square move?");
      assertThat(first)
          .contains("uploaded as sha256:")
          .contains("Q: When does the square move?")
          .contains("Q (")
          .contains("And then?")
          .contains("Where is it at the end?");
      assertThat(first.lines().filter(l -> l.startsWith("[FINISH_REASON_"))).hasSize(4);
      String second = run(target, video, "And now?");
      assertThat(second).contains("already on the server").doesNotContain("uploaded as");
    }
  }

  private static String run(String target, Path video, String question) throws Exception {
    Process p =
        new ProcessBuilder("bash", SCRIPT.toString(), target, video.toString(), question)
            .redirectErrorStream(true)
            .start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
    System.out.println(out);
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  /** Whether the tools are there, installing Debian's packages when this runs as root. */
  private static boolean ready() throws Exception {
    if (check()) {
      return true;
    }
    if (!"root".equals(System.getProperty("user.name"))) {
      return false;
    }
    for (List<String> step :
        List.of(
            List.of("apt-get", "update"),
            concat(List.of("apt-get", "install", "-y", "--no-install-recommends"), PACKAGES))) {
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
    return check();
  }

  private static boolean check() throws Exception {
    Process p =
        new ProcessBuilder(
                "bash",
                "-c",
                "command -v protoc && command -v grpc_python_plugin && "
                    + "(python3 -c 'import grpc, google.protobuf' || /usr/bin/python3 -c 'import grpc, google.protobuf')")
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> r = new java.util.ArrayList<>(a);
    r.addAll(b);
    return r;
  }
}

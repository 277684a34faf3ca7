package dev.llavast.server;

import dev.llavast.client.bench.EmbeddedServer;
import dev.llavast.models.TinyCheckpoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The real server as the client's in-process bench server ({@code llavast bench
 * --in-process=llavast}), found through {@code META-INF/services}. It lives in the server's test
 * scope because the client module must not depend on the server; a class path with the server jar,
 * the client CLI jar and {@code server/target/test-classes} puts both together.
 *
 * <p>Options ({@code --server-opt k=v}):
 *
 * <ul>
 *   <li>{@code model}: {@code demo} (default: the random-weight demo checkpoint), {@code tiny} or
 *       {@code small} (a random-weight checkpoint of that preset written to a temporary directory
 *       that is deleted on close)
 *   <li>{@code model-dir}: a checkpoint directory (overrides {@code model})
 *   <li>{@code devices} (default {@code cpu}), {@code max-queued-requests}, {@code
 *       max-running-sequences}, {@code seed} (for {@code tiny}/{@code small}, default 7)
 *   <li>{@code ready-timeout-s}: how long to wait for readiness (default 300)
 * </ul>
 *
 * <p>Any thread may call {@link #start}.
 */
public final class LlavaStEmbeddedServerProvider implements EmbeddedServer.Provider {
  /** The provider's name for {@code --in-process=NAME}. */
  public static final String NAME = "llavast";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public EmbeddedServer start(Map<String, String> options) throws Exception {
    Map<String, String> o = new HashMap<>(options);
    String model = o.remove("model");
    String modelDirOpt = o.remove("model-dir");
    String devices = o.getOrDefault("devices", "cpu");
    o.remove("devices");
    long seed = Long.parseLong(o.getOrDefault("seed", "7"));
    o.remove("seed");
    Duration readyTimeout =
        Duration.ofSeconds(Long.parseLong(o.getOrDefault("ready-timeout-s", "300")));
    o.remove("ready-timeout-s");
    ServerConfig d = ServerConfig.defaults();
    int maxQueued =
        Integer.parseInt(
            o.getOrDefault("max-queued-requests", String.valueOf(d.maxQueuedRequests())));
    o.remove("max-queued-requests");
    int maxRunning =
        Integer.parseInt(
            o.getOrDefault("max-running-sequences", String.valueOf(d.maxRunningSequences())));
    o.remove("max-running-sequences");
    if (!o.isEmpty()) {
      throw new IllegalArgumentException(
          "unknown embedded server options "
              + o.keySet()
              + "; expected model, "
              + "model-dir, devices, seed, max-queued-requests, max-running-sequences, ready-timeout-s");
    }

    Path tempModel = null;
    Optional<Path> modelDir;
    if (modelDirOpt != null) {
      modelDir = Optional.of(Path.of(modelDirOpt));
    } else if (model == null || model.equals("demo")) {
      modelDir = Optional.empty();
    } else {
      TinyCheckpoints.Preset preset;
      try {
        preset = TinyCheckpoints.Preset.valueOf(model.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "model must be demo, tiny or small, got '" + model + "'", e);
      }
      tempModel = Files.createTempDirectory("llavast-bench-model-");
      Path dir = tempModel.resolve("llava-st-" + model.toLowerCase(Locale.ROOT));
      TinyCheckpoints.write(dir, preset, seed);
      modelDir = Optional.of(dir);
    }
    ServerConfig config = withModel(d, modelDir, devices, maxQueued, maxRunning);
    Serving serving;
    try {
      serving = Serving.start(config);
    } catch (IOException | RuntimeException e) {
      deleteTree(tempModel);
      throw e;
    }
    Path owned = tempModel;
    EmbeddedServer handle =
        new EmbeddedServer() {
          @Override
          public String target() {
            return "127.0.0.1:" + serving.server().port();
          }

          @Override
          public void close() {
            try {
              serving.close();
            } finally {
              deleteTree(owned);
            }
          }
        };
    long deadline = System.nanoTime() + readyTimeout.toNanos();
    while (!serving.server().isReady()) {
      if (System.nanoTime() > deadline) {
        handle.close();
        throw new IllegalStateException(
            "the embedded server was not ready within "
                + readyTimeout
                + " (the warm-up generation did not pass; see the log)");
      }
      Thread.sleep(50);
    }
    return handle;
  }

  /** Loopback, free ports, metrics off, the given model, devices and admission limits. */
  static ServerConfig withModel(
      ServerConfig d,
      Optional<Path> modelDir,
      String devices,
      int maxQueuedRequests,
      int maxRunningSequences) {
    return d.toBuilder()
        .host("127.0.0.1")
        .port(0)
        .metricsPort(-1)
        .httpPort(-1)
        .modelDir(modelDir)
        .devices(devices)
        .maxQueuedRequests(maxQueuedRequests)
        .maxRunningSequences(maxRunningSequences)
        .build();
  }

  private static void deleteTree(Path root) {
    if (root == null) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not delete the temporary model " + root, e);
    }
  }
}

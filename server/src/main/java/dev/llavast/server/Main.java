package dev.llavast.server;

import dev.llavast.server.cli.EngineOptions;
import dev.llavast.server.cli.GenerateCommand;
import dev.llavast.server.generation.DeviceUnavailableException;
import dev.llavast.server.grpc.LlavaStServer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The server's command line: {@code java -jar llavast-server.jar [flags]} serves the API until
 * SIGTERM, then drains. Every flag maps to one field of {@link ServerConfig}.
 */
@Command(
    name = "llavast-server",
    mixinStandardHelpOptions = true,
    version = "llavast-server 0.1.0",
    description =
        "Serves LLaVA-ST (video and image questions answered with timestamps and boxes) over gRPC.",
    subcommands = GenerateCommand.class,
    sortOptions = false)
public final class Main implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(Main.class);
  private static final ServerConfig D = ServerConfig.defaults();

  @Mixin EngineOptions engine;

  @Option(
      names = "--host",
      description = "Address to bind (default: ${DEFAULT-VALUE}; use 0.0.0.0 in containers).")
  String host = "0.0.0.0";

  @Option(names = "--port", description = "gRPC port (default: ${DEFAULT-VALUE}).")
  int port = ServerConfig.DEFAULT_PORT;

  @Option(
      names = "--metrics-port",
      description = "Prometheus /metrics port, -1 to disable (default: ${DEFAULT-VALUE}).")
  int metricsPort = ServerConfig.DEFAULT_METRICS_PORT;

  @Option(
      names = "--http-port",
      description =
          "OpenAI-compatible HTTP API port (/v1/chat/completions), -1 to disable "
              + "(default: ${DEFAULT-VALUE}).")
  int httpPort = ServerConfig.DEFAULT_HTTP_PORT;

  @Option(
      names = "--handler-threads",
      description = "gRPC handler threads (default: ${DEFAULT-VALUE}).")
  int handlerThreads = D.handlerThreads();

  @Option(
      names = "--max-queued-requests",
      description = "Waiting requests before RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).")
  int maxQueuedRequests = D.maxQueuedRequests();

  @Option(
      names = "--max-queued-prompt-tokens",
      description = "Waiting prompt tokens before RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).")
  int maxQueuedPromptTokens = D.maxQueuedPromptTokens();

  @Option(
      names = "--max-new-tokens-limit",
      description = "Largest max_new_tokens accepted (default: ${DEFAULT-VALUE}).")
  int maxNewTokensLimit = D.maxNewTokensLimit();

  @Option(
      names = "--default-max-new-tokens",
      description = "max_new_tokens when a request leaves it unset (default: ${DEFAULT-VALUE}).")
  int defaultMaxNewTokens = D.defaultMaxNewTokens();

  @Option(
      names = "--max-upload-bytes",
      description = "Size cap of one media item (default: ${DEFAULT-VALUE}).")
  long maxUploadBytes = D.maxUploadBytes();

  @Option(
      names = "--max-chunk-bytes",
      description = "Size cap of one upload chunk (default: ${DEFAULT-VALUE}).")
  int maxChunkBytes = D.maxChunkBytes();

  @Option(
      names = "--max-inline-media-bytes",
      description =
          "Size cap of the media bytes inline in one request"
              + " (video, image or all frames); larger media go through UploadMedia (default: ${DEFAULT-VALUE}).")
  long maxInlineMediaBytes = D.maxInlineMediaBytes();

  @Option(
      names = "--max-sessions",
      description = "Open sessions at most (default: ${DEFAULT-VALUE}).")
  int maxSessions = D.maxSessions();

  @Option(
      names = "--session-ttl",
      converter = DurationConverter.class,
      description = "Idle time before a session expires, e.g. 600s, 10m (default: 10m).")
  Duration sessionTtl = D.sessionTtl();

  @Option(
      names = "--drain-timeout",
      converter = DurationConverter.class,
      description = "On SIGTERM, time for running streams to finish, e.g. 30s (default: 30s).")
  Duration drainTimeout = D.drainTimeout();

  @Option(
      names = "--worker-stall-timeout",
      converter = DurationConverter.class,
      description = "A worker loop silent this long turns liveness NOT_SERVING (default: 60s).")
  Duration workerStallTimeout = D.workerStallTimeout();

  @Option(
      names = "--media-dir",
      description = "Where uploaded media are stored (default: a temporary directory).")
  @Nullable Path mediaDir;

  @Option(
      names = "--api-keys-file",
      paramLabel = "FILE",
      description =
          "API keys, one '<tenant> <key>' per line: "
              + "every call needs 'authorization: Bearer <key>' and sees only its tenant's media, sessions and requests "
              + "(default: none, one open tenant).")
  @Nullable Path apiKeysFile;

  @Option(
      names = "--shared-caches",
      description =
          "Share cached features and KV prefixes across tenants (one "
              + "organisation); by default each tenant has its own, so a cache hit tells nothing about others.")
  boolean sharedCaches;

  @Option(
      names = "--tls-cert",
      paramLabel = "PEM",
      description = "Certificate chain for TLS on the gRPC port.")
  @Nullable Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key of --tls-cert.")
  @Nullable Path tlsKey;

  @Option(
      names = "--tls-client-ca",
      paramLabel = "PEM",
      description = "Require client certificates that chain to this CA (mutual TLS).")
  @Nullable Path tlsClientCa;

  /** The configuration these flags describe. */
  ServerConfig toConfig() {
    return engine
        .applyTo(ServerConfig.builder())
        .host(host)
        .port(port)
        .metricsPort(metricsPort)
        .httpPort(httpPort)
        .handlerThreads(handlerThreads)
        .maxQueuedRequests(maxQueuedRequests)
        .maxQueuedPromptTokens(maxQueuedPromptTokens)
        .maxNewTokensLimit(maxNewTokensLimit)
        .defaultMaxNewTokens(defaultMaxNewTokens)
        .maxUploadBytes(maxUploadBytes)
        .maxChunkBytes(maxChunkBytes)
        .maxInlineMediaBytes(maxInlineMediaBytes)
        .maxSessions(maxSessions)
        .sessionTtl(sessionTtl)
        .drainTimeout(drainTimeout)
        .workerStallTimeout(workerStallTimeout)
        .mediaDir(Optional.ofNullable(mediaDir))
        .security(
            new ServerConfig.Security(
                Optional.ofNullable(apiKeysFile),
                sharedCaches,
                Optional.ofNullable(tlsCert),
                Optional.ofNullable(tlsKey),
                Optional.ofNullable(tlsClientCa)))
        .build();
  }

  @Override
  public Integer call() throws Exception {
    ServerConfig config;
    try {
      config = toConfig();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
    }
    Serving serving;
    try {
      serving = Serving.start(config);
    } catch (DeviceUnavailableException e) {
      // Said once, plainly, without a stack trace: this is configuration, not a bug.
      log.error("cannot start on {}: {}", config.devices(), e.getMessage());
      return DeviceUnavailableException.EXIT_CODE;
    }
    LlavaStServer server = serving.server();
    Runnable drain =
        () -> {
          boolean clean = serving.drain(config.drainTimeout());
          log.info("drained {}", clean ? "cleanly" : "after cancelling the calls still running");
        };
    // SIGTERM and SIGINT drain and then let main() return 0 (a plain shutdown hook would exit 143).
    // A shutdown hook covers the other ways the JVM can be asked to stop.
    onSignal("TERM", drain);
    onSignal("INT", drain);
    Runtime.getRuntime().addShutdownHook(new Thread(drain, "shutdown-drain"));
    server.awaitTermination();
    return 0;
  }

  private static void onSignal(String name, Runnable action) {
    try {
      sun.misc.Signal.handle(
          new sun.misc.Signal(name),
          sig -> new Thread(action, "sig" + name.toLowerCase(Locale.ROOT) + "-drain").start());
    } catch (IllegalArgumentException e) {
      log.debug("signal {} cannot be handled on this platform: {}", name, e.getMessage());
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Main()).execute(args));
  }

  /**
   * Parses {@code 30s}, {@code 5m}, {@code 1h}, {@code 250ms}, plain seconds, or ISO-8601 ({@code
   * PT30S}).
   */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      try {
        if (v.startsWith("pt") || v.startsWith("p")) {
          return Duration.parse(value.trim().toUpperCase(Locale.ROOT));
        }
        if (v.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        }
        if (v.endsWith("s")) {
          return Duration.ofMillis(
              Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 1000));
        }
        if (v.endsWith("m")) {
          return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)) * 60);
        }
        if (v.endsWith("h")) {
          return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
        }
        return Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000));
      } catch (NumberFormatException | DateTimeParseException e) {
        throw new CommandLine.TypeConversionException(
            "'" + value + "' is not a duration: use e.g. 30s, 5m, 1h, 250ms or PT30S");
      }
    }
  }
}

package dev.llavast.server;

import dev.llavast.server.generation.Engine;
import dev.llavast.server.grpc.EngineBackend;
import dev.llavast.server.grpc.LlavaStServer;
import dev.llavast.server.http.HttpApiServer;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.ApiKeys;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole server, wired from one {@link ServerConfig}: the {@link Engine} (model, scheduler,
 * media, caches, sessions) behind two doors, the gRPC process ({@link LlavaStServer}) and the
 * OpenAI-compatible HTTP API ({@link HttpApiServer}, unless {@code --http-port -1}). {@link #start}
 * returns once the ports are bound; readiness turns SERVING when a real one-token generation has
 * passed. {@link #drain} and {@link #close} stop it in order: readiness off, no new calls, running
 * calls finish or are cancelled, then the workers, executors and model files are released.
 *
 * <p>Thread-safe.
 */
public final class Serving implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Serving.class);

  private final Engine engine;
  private final LlavaStServer server;
  private final @Nullable HttpApiServer http; // null when disabled
  private final ScheduledExecutorService health;

  private Serving(Engine engine, LlavaStServer server, @Nullable HttpApiServer http) {
    this.engine = engine;
    this.server = server;
    this.http = http;
    this.health =
        Executors.newSingleThreadScheduledExecutor(
            dev.llavast.server.concurrent.DaemonThreads.factory("health"));
    health.scheduleAtFixedRate(() -> server.setLive(engine.isLive()), 1, 1, TimeUnit.SECONDS);
  }

  /**
   * Loads the model, binds the ports and starts the readiness check (a real one-token generation).
   *
   * @throws IOException if the model cannot be read or a port cannot be bound
   */
  public static Serving start(ServerConfig config) throws IOException {
    ApiKeys keys =
        config.security().apiKeysFile().isPresent()
            ? ApiKeys.load(config.security().apiKeysFile().get())
            : ApiKeys.open();
    if (keys.required()) {
      log.info(
          "API keys: {} tenants; every call but health checks needs 'authorization: Bearer <key>'; caches {}",
          keys.tenants(),
          config.security().sharedCaches() ? "shared across tenants" : "per tenant");
    } else {
      log.warn("no --api-keys-file: any client may call, and all share one open tenant");
    }
    PrometheusRegistry registry = new PrometheusRegistry();
    Metrics metrics = new Metrics(registry);
    Engine engine = Engine.start(config.engine(), metrics);
    Serving s;
    @Nullable HttpApiServer http = null;
    try {
      http =
          config.httpPort() < 0
              ? null
              : HttpApiServer.start(
                  config.host(),
                  config.httpPort(),
                  engine,
                  metrics,
                  keys,
                  config.maxInlineMediaBytes());
      s =
          new Serving(
              engine,
              LlavaStServer.start(config, registry, new EngineBackend(engine, config), keys),
              http);
      metrics.readiness(s.server::isReady);
    } catch (IOException | RuntimeException e) {
      if (http != null) {
        http.close();
      }
      engine.close();
      throw e;
    }
    engine
        .warmUp()
        .whenComplete(
            (v, e) -> {
              if (e == null) {
                s.server.markReady();
                if (s.http != null) {
                  s.http.markReady();
                }
                log.info("ready: a one-token generation passed on {}", engine.devices());
              } else {
                log.error("the warm-up generation failed: readiness stays NOT_SERVING", e);
              }
            });
    return s;
  }

  public LlavaStServer server() {
    return server;
  }

  /** The HTTP door, or null when {@code --http-port} is -1. */
  public @Nullable HttpApiServer http() {
    return http;
  }

  /** The engine behind the server (for in-process benchmarks and tests). */
  public Engine engine() {
    return engine;
  }

  /** Graceful stop (see {@link LlavaStServer#drain}); then releases the model. Idempotent. */
  public boolean drain(Duration timeout) {
    CompletableFuture<Boolean> httpDrained =
        http == null
            ? CompletableFuture.completedFuture(true)
            : CompletableFuture.supplyAsync(() -> http.drain(timeout));
    boolean clean = server.drain(timeout);
    clean &= httpDrained.join();
    release();
    return clean;
  }

  private boolean released; // guarded by this

  private synchronized void release() {
    if (released) {
      return;
    }
    released = true;
    health.shutdownNow();
    try {
      engine.close();
    } catch (IOException | RuntimeException e) {
      log.warn("error while releasing the model", e);
    }
  }

  @Override
  public void close() {
    drain(Duration.ZERO);
  }
}

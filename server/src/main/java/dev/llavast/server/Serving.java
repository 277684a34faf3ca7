package dev.llavast.server;

import dev.llavast.server.generation.Engine;
import dev.llavast.server.grpc.EngineBackend;
import dev.llavast.server.grpc.LlavaStServer;
import dev.llavast.server.observability.Metrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole server, wired from one {@link ServerConfig}: the {@link Engine} (model, scheduler,
 * media, caches, sessions) behind the gRPC process ({@link LlavaStServer}). {@link #start} returns
 * once the ports are bound; readiness turns SERVING when a real one-token generation has passed.
 * {@link #drain} and {@link #close} stop it in order: readiness off, no new calls, running calls
 * finish or are cancelled, then the workers, executors and model files are released.
 *
 * <p>Thread-safe.
 */
public final class Serving implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Serving.class);

  private final Engine engine;
  private final LlavaStServer server;
  private final ScheduledExecutorService health;

  private Serving(Engine engine, LlavaStServer server) {
    this.engine = engine;
    this.server = server;
    this.health = Executors.newSingleThreadScheduledExecutor(
        dev.llavast.server.concurrent.DaemonThreads.factory("health"));
    health.scheduleAtFixedRate(() -> server.setLive(engine.isLive()), 1, 1, TimeUnit.SECONDS);
  }

  /**
   * Loads the model, binds the ports and starts the readiness check (a real one-token generation).
   *
   * @throws IOException if the model cannot be read or a port cannot be bound
   */
  public static Serving start(ServerConfig config) throws IOException {
    PrometheusRegistry registry = new PrometheusRegistry();
    Engine engine = Engine.start(config.engine(), new Metrics(registry));
    Serving s;
    try {
      s = new Serving(engine, LlavaStServer.start(config, registry, new EngineBackend(engine, config)));
    } catch (IOException | RuntimeException e) {
      engine.close();
      throw e;
    }
    engine.warmUp().whenComplete((v, e) -> {
      if (e == null) {
        s.server.markReady();
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

  /** The engine behind the server (for in-process benchmarks and tests). */
  public Engine engine() {
    return engine;
  }

  /** Graceful stop (see {@link LlavaStServer#drain}); then releases the model. Idempotent. */
  public boolean drain(Duration timeout) {
    boolean clean = server.drain(timeout);
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

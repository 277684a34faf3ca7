package dev.llavast.server.grpc;

import dev.llavast.api.v1.ServerStatus;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.concurrent.DaemonThreads;
import dev.llavast.server.tenancy.ApiKeys;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC server process: a Netty server on the configured address with the API services, the
 * standard health service (liveness and a named readiness service), reflection v1, a bounded
 * handler executor, and a Prometheus {@code /metrics} endpoint with JVM and gRPC server metrics.
 *
 * <p>Lifecycle: {@link #start} binds the ports; {@link #markReady()} turns readiness SERVING once
 * the model is usable; {@link #drain(Duration)} turns readiness off, stops accepting calls, lets
 * running calls finish within the timeout and then cancels the rest; {@link #close()} drains with
 * no grace period. All methods are thread-safe.
 */
public final class LlavaStServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LlavaStServer.class);

  private final ServerConfig config;
  private final PrometheusRegistry registry;
  private final HealthStatusManager health;
  private final ExecutorService handlers;
  private final Server server;
  private final @Nullable HTTPServer metricsServer;
  private final long startNanos = System.nanoTime();
  private volatile boolean ready;
  private volatile boolean draining;
  private @Nullable Boolean drained; // guarded by this; null until drain() has run

  /** What a model backend adds to the bare server. All methods are thread-safe. */
  public interface Backend {
    /** The API services (media, generation, sessions). */
    List<BindableService> services(
        java.util.concurrent.Executor handlerExecutor, java.util.function.BooleanSupplier draining);

    /** Fills model-dependent parts of a status snapshot (queues, workers, caches). */
    void status(ServerStatus.Builder status);

    /** The loaded model's facts. */
    java.util.Optional<dev.llavast.api.v1.ModelInfo> modelInfo();

    /** Called when the drain timeout passed with calls still running: cancel them all now. */
    void cancelAll();
  }

  private final Backend backend;

  private LlavaStServer(
      ServerConfig config, PrometheusRegistry registry, Backend backend, ApiKeys keys)
      throws IOException {
    this.config = config;
    this.registry = registry;
    this.backend = backend;
    this.health = new HealthStatusManager();
    health.setStatus(ServerConfig.LIVENESS_SERVICE, ServingStatus.SERVING);
    health.setStatus(ServerConfig.READINESS_SERVICE, ServingStatus.NOT_SERVING);
    this.handlers = boundedExecutor(config.handlerThreads());
    GrpcMetricsInterceptor metrics = new GrpcMetricsInterceptor(registry);

    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port()))
            .executor(handlers)
            .maxInboundMessageSize(config.maxInboundMessageBytes())
            .permitKeepAliveTime(10, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true);
    // Interceptors run last-added first: metrics see every call, rejected ones included; the
    // guard sits next to the service, so every API call ends with a status that has its ErrorInfo.
    Tenants tenants = new Tenants(keys);
    CallGuard guard = new CallGuard();
    List<BindableService> api = new ArrayList<>(backend.services(handlers, this::isDraining));
    api.add(new AdminService(this::status, backend::modelInfo));
    for (BindableService service : api) {
      builder.addService(
          ServerInterceptors.intercept(
              CallGuard.lenient(service.bindService()), guard, tenants, metrics));
    }
    builder.addService(ServerInterceptors.intercept(health.getHealthService(), metrics));
    builder.addService(
        ServerInterceptors.intercept(ProtoReflectionServiceV1.newInstance(), tenants));
    if (config.security().tlsCert().isPresent()) {
      builder.sslContext(Tls.serverContext(config.security()));
    }
    this.server = builder.build();

    HTTPServer http = null;
    try {
      server.start();
      if (config.metricsPort() >= 0) {
        http =
            HTTPServer.builder()
                .hostname(config.host())
                .port(config.metricsPort())
                .registry(registry)
                .buildAndStart();
      }
    } catch (IOException | RuntimeException e) {
      server.shutdownNow();
      handlers.shutdownNow();
      throw e;
    }
    this.metricsServer = http;
    log.info(
        "gRPC listening on {}:{}, metrics on {}",
        config.host(),
        server.getPort(),
        http == null
            ? "(disabled)"
            : config.host() + ":" + http.getPort() + ServerConfig.METRICS_PATH);
  }

  /**
   * Starts a server with the given API services (the admin, health and reflection services are
   * always added).
   *
   * @throws IOException if a port cannot be bound
   */
  public static LlavaStServer start(
      ServerConfig config, PrometheusRegistry registry, Backend backend) throws IOException {
    return start(config, registry, backend, ApiKeys.open());
  }

  /** Starts a server whose API calls need one of {@code keys} (health checks never do). */
  public static LlavaStServer start(
      ServerConfig config, PrometheusRegistry registry, Backend backend, ApiKeys keys)
      throws IOException {
    JvmMetrics.builder().register(registry);
    return new LlavaStServer(config, registry, backend, keys);
  }

  /** Starts a server with the given API services and no model behind the admin service. */
  public static LlavaStServer start(ServerConfig config, List<BindableService> apiServices)
      throws IOException {
    return start(
        config,
        new PrometheusRegistry(),
        new Backend() {
          @Override
          public List<BindableService> services(
              java.util.concurrent.Executor e, java.util.function.BooleanSupplier d) {
            return apiServices;
          }

          @Override
          public void status(ServerStatus.Builder status) {}

          @Override
          public java.util.Optional<dev.llavast.api.v1.ModelInfo> modelInfo() {
            return java.util.Optional.empty();
          }

          @Override
          public void cancelAll() {}
        });
  }

  /** The bound gRPC port. */
  public int port() {
    return server.getPort();
  }

  /** The bound metrics port, or -1 when disabled. */
  public int metricsPort() {
    return metricsServer == null ? -1 : metricsServer.getPort();
  }

  public ServerConfig config() {
    return config;
  }

  /** The registry that {@code /metrics} exposes; other components register their metrics here. */
  public PrometheusRegistry registry() {
    return registry;
  }

  /**
   * Readiness SERVING: the model is loaded and a real generation succeeded. Ignored while draining.
   */
  public synchronized void markReady() {
    if (!draining) {
      ready = true;
      health.setStatus(ServerConfig.READINESS_SERVICE, ServingStatus.SERVING);
    }
  }

  /** Liveness: SERVING while the worker loops make progress. */
  public void setLive(boolean live) {
    health.setStatus(
        ServerConfig.LIVENESS_SERVICE, live ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  }

  public boolean isReady() {
    return ready && !draining;
  }

  public boolean isDraining() {
    return draining;
  }

  /**
   * Graceful shutdown: readiness NOT_SERVING, no new calls, running calls get {@code timeout} to
   * finish, then they are cancelled. Returns whether everything finished in time.
   */
  public synchronized boolean drain(Duration timeout) {
    if (drained != null) {
      return drained; // a second caller (signal handler, then shutdown hook) sees the first outcome
    }
    draining = true;
    ready = false;
    health.setStatus(ServerConfig.READINESS_SERVICE, ServingStatus.NOT_SERVING);
    log.info("draining: readiness off, no new calls, {} ms for running calls", timeout.toMillis());
    server.shutdown();
    boolean clean;
    try {
      clean = server.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!clean) {
        log.info("drain timeout passed with calls running: cancelling them");
        backend.cancelAll();
        server.awaitTermination(2, TimeUnit.SECONDS);
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
      clean = false;
    }
    health.enterTerminalState();
    handlers.shutdown();
    if (metricsServer != null) {
      metricsServer.close();
    }
    drained = clean;
    return clean;
  }

  /** Blocks until the gRPC server has terminated. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() {
    drain(Duration.ZERO);
  }

  private ServerStatus status() {
    ServerStatus.Builder b =
        ServerStatus.newBuilder()
            .setReady(isReady())
            .setDraining(draining)
            .setUptimeSeconds((System.nanoTime() - startNanos) / 1e9);
    backend.status(b);
    return b.build();
  }

  private static ExecutorService boundedExecutor(int threads) {
    ThreadFactory factory = DaemonThreads.factory("grpc-handler");
    // A fixed number of handler threads; handlers never block on the model, so a deep queue only
    // absorbs bursts. Past it the call fails instead of growing memory without bound.
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            threads,
            threads,
            60,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(threads * 256),
            factory,
            new ThreadPoolExecutor.AbortPolicy());
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }
}

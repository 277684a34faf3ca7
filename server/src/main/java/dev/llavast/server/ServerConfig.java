package dev.llavast.server;

import dev.llavast.models.media.MediaDecoder;
import dev.llavast.server.generation.DeviceSpec;
import dev.llavast.server.generation.EngineConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Everything the server is configured with, from command-line flags ({@link Main}) or built in code
 * (tests). Immutable; any thread.
 *
 * <p>The constants below (port defaults, health service names, the media routing header) are an
 * interface to the outside world: Kubernetes probes, proxies and clients depend on them. The k8s
 * manifests test reads them from here.
 *
 * @param host address to bind the gRPC and metrics ports to ({@code 0.0.0.0} in containers)
 * @param port gRPC port (0 picks a free port)
 * @param metricsPort Prometheus {@code /metrics} port (0 picks a free port, -1 disables)
 * @param httpPort OpenAI-compatible HTTP port (0 picks a free port, -1 disables)
 * @param modelDir checkpoint directory; empty means the random-weight demo checkpoint
 * @param devices {@code cpu}, {@code cpu:N} (N CPU workers) or {@code cuda:0,1,...}
 * @param handlerThreads bound of the gRPC handler executor (handlers never touch tensors)
 * @param maxQueuedRequests admission limit: requests waiting across workers
 * @param maxQueuedPromptTokens admission limit: prompt tokens waiting across workers
 * @param maxNewTokensLimit largest {@code max_new_tokens} a request may ask for
 * @param defaultMaxNewTokens used when a request leaves {@code max_new_tokens} unset
 * @param maxUploadBytes size cap of one media item
 * @param maxChunkBytes size cap of one upload chunk (and the inbound message size)
 * @param maxSessions open sessions at most
 * @param sessionTtl default idle time before a session expires
 * @param featureCacheBytes host memory for cached packed visual features
 * @param kvBlocks KV blocks per worker; 0 derives the count from the memory the device reports
 * @param kvBlockSize token slots per KV block
 * @param maxBatchTokens token budget of one scheduler step
 * @param maxRunningSequences sequences one worker runs at once
 * @param drainTimeout on SIGTERM, how long running streams may take to finish
 * @param workerStallTimeout a worker loop silent for longer turns liveness NOT_SERVING
 * @param mediaDir where uploaded media are stored; empty means a temporary directory
 * @param security API keys, tenancy and TLS ({@link Security#OPEN}: one open tenant, plaintext)
 * @param maxInlineMediaBytes size cap of the media bytes inline in one request (video, image or all
 *     frames together); larger media go through UploadMedia
 * @param gpuMemoryFraction with {@code kvBlocks} 0 on a GPU: the share of the device's free memory
 *     after the weights that the KV pool and the activations may use, in (0, 1]
 * @param decodeThreads FFmpeg decoding threads per video (0: chosen from the machine's cores)
 * @param mediaNice the nice value of media decoding threads (Linux), 0 to 19: above 0 they yield a
 *     contended core to the workers and use idle cores as before; 0 keeps the normal priority
 * @param prefixCaching whether KV blocks of a prompt prefix (system prompt, video span) are reused
 *     by later questions; off, every question is prefilled whole (the reference flow, for
 *     measuring)
 * @param attentionFp32 whether the LLM's attention scores are computed in fp32; null: the model's
 *     default (on for fp16 devices, where the scores of long prompts overflow half precision)
 */
public record ServerConfig(
    String host,
    int port,
    int metricsPort,
    int httpPort,
    Optional<Path> modelDir,
    String devices,
    int handlerThreads,
    int maxQueuedRequests,
    int maxQueuedPromptTokens,
    int maxNewTokensLimit,
    int defaultMaxNewTokens,
    long maxUploadBytes,
    int maxChunkBytes,
    int maxSessions,
    Duration sessionTtl,
    long featureCacheBytes,
    int kvBlocks,
    int kvBlockSize,
    int maxBatchTokens,
    int maxRunningSequences,
    Duration drainTimeout,
    Duration workerStallTimeout,
    Optional<Path> mediaDir,
    Security security,
    long maxInlineMediaBytes,
    double gpuMemoryFraction,
    int decodeThreads,
    int mediaNice,
    boolean prefixCaching,
    @Nullable Boolean attentionFp32) {

  /** Default gRPC port. */
  public static final int DEFAULT_PORT = 50051;

  /** Default port of the OpenAI-compatible HTTP API. */
  public static final int DEFAULT_HTTP_PORT = 8000;

  /** Default Prometheus port. */
  public static final int DEFAULT_METRICS_PORT = 9464;

  /** Path of the Prometheus endpoint on the metrics port. */
  public static final String METRICS_PATH = "/metrics";

  /**
   * gRPC health service name for readiness: SERVING only after the model loaded and a real 1-token
   * generation passed, NOT_SERVING while draining.
   */
  public static final String READINESS_SERVICE = "llavast.readiness";

  /**
   * gRPC health service name for liveness: SERVING while the process and its worker loops are
   * alive.
   */
  public static final String LIVENESS_SERVICE = "llavast.liveness";

  /**
   * Request header carrying the media id, so an L7 proxy can route questions about one video to one
   * pod.
   */
  public static final String MEDIA_ID_HEADER = "x-media-id";

  /** Default drain timeout; the Kubernetes grace period must cover it plus the preStop delay. */
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Who may call and how calls travel.
   *
   * @param apiKeysFile {@code <tenant> <key>} lines; empty: no authentication, one open tenant
   * @param sharedCaches whether tenants share cached features and KV prefixes (a single
   *     organisation)
   * @param tlsCert PEM certificate chain of the gRPC port; empty: plaintext
   * @param tlsKey PEM private key of {@code tlsCert}
   * @param tlsClientCa PEM CA that client certificates must chain to (mutual TLS); empty: none
   *     asked
   */
  public record Security(
      Optional<Path> apiKeysFile,
      boolean sharedCaches,
      Optional<Path> tlsCert,
      Optional<Path> tlsKey,
      Optional<Path> tlsClientCa) {
    /** No keys, per-tenant caches (moot with one tenant), plaintext. */
    public static final Security OPEN =
        new Security(Optional.empty(), false, Optional.empty(), Optional.empty(), Optional.empty());

    public Security {
      Objects.requireNonNull(apiKeysFile, "apiKeysFile");
      Objects.requireNonNull(tlsCert, "tlsCert");
      Objects.requireNonNull(tlsKey, "tlsKey");
      Objects.requireNonNull(tlsClientCa, "tlsClientCa");
      if (tlsCert.isPresent() != tlsKey.isPresent()) {
        throw new IllegalArgumentException("tls-cert and tls-key go together");
      }
      if (tlsClientCa.isPresent() && tlsCert.isEmpty()) {
        throw new IllegalArgumentException("tls-client-ca needs tls-cert and tls-key");
      }
    }
  }

  /** The largest {@link #maxNewTokensLimit} accepted. */
  public static final int MAX_NEW_TOKENS_CAP = 1_000_000;

  /** Default cap of media inline in one request: a typical short clip fits. */
  public static final long DEFAULT_MAX_INLINE_MEDIA_BYTES = 32L << 20;

  /**
   * What the gRPC transport accepts on top of the largest media field: room for everything else a
   * request may hold within its own limits (a prompt of 32,768 characters is at most 128 KiB).
   */
  static final int INBOUND_HEADROOM_BYTES = 1 << 20;

  /**
   * The one limit the transport itself enforces: a gRPC message larger than this ends with a bare
   * RESOURCE_EXHAUSTED before any of our code sees it. Every field limit lies below it, so a field
   * over its own limit is answered by validation, with its reason and field.
   */
  public int maxInboundMessageBytes() {
    return (int) Math.max(maxChunkBytes, maxInlineMediaBytes) + INBOUND_HEADROOM_BYTES;
  }

  public ServerConfig {
    Objects.requireNonNull(security, "security");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(modelDir, "modelDir");
    Objects.requireNonNull(devices, "devices");
    Objects.requireNonNull(sessionTtl, "sessionTtl");
    Objects.requireNonNull(drainTimeout, "drainTimeout");
    Objects.requireNonNull(workerStallTimeout, "workerStallTimeout");
    Objects.requireNonNull(mediaDir, "mediaDir");
    requireRange("port", port, 0, 65535);
    requireRange("metrics-port", metricsPort, -1, 65535);
    requireRange("http-port", httpPort, -1, 65535);
    requireRange("handler-threads", handlerThreads, 1, 4096);
    requireRange("max-queued-requests", maxQueuedRequests, 1, 1_000_000);
    requireRange("max-queued-prompt-tokens", maxQueuedPromptTokens, 1, Integer.MAX_VALUE);
    requireRange("max-new-tokens-limit", maxNewTokensLimit, 1, MAX_NEW_TOKENS_CAP);
    requireRange("default-max-new-tokens", defaultMaxNewTokens, 1, maxNewTokensLimit);
    if (maxUploadBytes <= 0) {
      throw new IllegalArgumentException("max-upload-bytes must be > 0, got " + maxUploadBytes);
    }
    requireRange("max-chunk-bytes", maxChunkBytes, 1024, 64 << 20);
    requireRange("max-inline-media-bytes", maxInlineMediaBytes, 1024, 1L << 30);
    requireRange("max-sessions", maxSessions, 0, 1_000_000);
    if (featureCacheBytes < 0) {
      throw new IllegalArgumentException(
          "feature-cache-bytes must be >= 0, got " + featureCacheBytes);
    }
    requireRange("kv-blocks", kvBlocks, 0, Integer.MAX_VALUE);
    requireRange("kv-block-size", kvBlockSize, 1, 4096);
    requireRange("max-batch-tokens", maxBatchTokens, 1, Integer.MAX_VALUE);
    requireRange("max-running-sequences", maxRunningSequences, 1, 65536);
    requireRange("decode-threads", decodeThreads, 0, MediaDecoder.MAX_DECODE_THREADS);
    requireRange("media-nice", mediaNice, 0, 19);
    requirePositive("session-ttl", sessionTtl);
    requirePositive("worker-stall-timeout", workerStallTimeout);
    if (drainTimeout.isNegative()) {
      throw new IllegalArgumentException("drain-timeout must be >= 0, got " + drainTimeout);
    }
    if (!(gpuMemoryFraction > 0 && gpuMemoryFraction <= 1)) {
      throw new IllegalArgumentException(
          "--gpu-memory-fraction must be in (0, 1], got " + gpuMemoryFraction);
    }
    DeviceSpec.parse(devices); // fail early on a malformed device list
  }

  /** The defaults of every flag, bound to loopback: what tests start from. */
  public static ServerConfig defaults() {
    return builder().build();
  }

  /** A builder holding {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration, to build a copy with some components changed. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A copy listening on free loopback ports (for tests); a disabled port stays disabled. */
  public ServerConfig withEphemeralPorts() {
    return toBuilder()
        .host("127.0.0.1")
        .port(0)
        .metricsPort(metricsPort < 0 ? -1 : 0)
        .httpPort(httpPort < 0 ? -1 : 0)
        .build();
  }

  /**
   * Collects the components of a {@link ServerConfig}, one setter each (named and documented as the
   * component), starting from the defaults or from a configuration; {@link #build()} validates them
   * all. Not thread-safe: one thread builds.
   */
  public static final class Builder {
    private String host = "127.0.0.1";
    private int port = DEFAULT_PORT;
    private int metricsPort = DEFAULT_METRICS_PORT;
    private int httpPort = DEFAULT_HTTP_PORT;
    private Optional<Path> modelDir = Optional.empty();
    private String devices = "cpu";
    private int handlerThreads = 32;
    private int maxQueuedRequests = 256;
    private int maxQueuedPromptTokens = 256 * 3000;
    private int maxNewTokensLimit = 4096;
    private int defaultMaxNewTokens = 256;
    private long maxUploadBytes = 2L << 30;
    private int maxChunkBytes = 4 << 20;
    private int maxSessions = 1024;
    private Duration sessionTtl = Duration.ofMinutes(10);
    private long featureCacheBytes = 1L << 30;
    private int kvBlocks = 0;
    private int kvBlockSize = 16;
    private int maxBatchTokens = 2048;
    private int maxRunningSequences = 64;
    private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;
    private Duration workerStallTimeout = Duration.ofSeconds(60);
    private Optional<Path> mediaDir = Optional.empty();
    private Security security = Security.OPEN;
    private long maxInlineMediaBytes = DEFAULT_MAX_INLINE_MEDIA_BYTES;
    private double gpuMemoryFraction = EngineConfig.DEFAULT_GPU_MEMORY_FRACTION;
    private int decodeThreads = 0;
    private int mediaNice = EngineConfig.DEFAULT_MEDIA_NICE;
    private boolean prefixCaching = true;
    private @Nullable Boolean attentionFp32;

    private Builder() {}

    private Builder(ServerConfig c) {
      host = c.host;
      port = c.port;
      metricsPort = c.metricsPort;
      httpPort = c.httpPort;
      modelDir = c.modelDir;
      devices = c.devices;
      handlerThreads = c.handlerThreads;
      maxQueuedRequests = c.maxQueuedRequests;
      maxQueuedPromptTokens = c.maxQueuedPromptTokens;
      maxNewTokensLimit = c.maxNewTokensLimit;
      defaultMaxNewTokens = c.defaultMaxNewTokens;
      maxUploadBytes = c.maxUploadBytes;
      maxChunkBytes = c.maxChunkBytes;
      maxSessions = c.maxSessions;
      sessionTtl = c.sessionTtl;
      featureCacheBytes = c.featureCacheBytes;
      kvBlocks = c.kvBlocks;
      kvBlockSize = c.kvBlockSize;
      maxBatchTokens = c.maxBatchTokens;
      maxRunningSequences = c.maxRunningSequences;
      drainTimeout = c.drainTimeout;
      workerStallTimeout = c.workerStallTimeout;
      mediaDir = c.mediaDir;
      security = c.security;
      maxInlineMediaBytes = c.maxInlineMediaBytes;
      gpuMemoryFraction = c.gpuMemoryFraction;
      decodeThreads = c.decodeThreads;
      mediaNice = c.mediaNice;
      prefixCaching = c.prefixCaching;
      attentionFp32 = c.attentionFp32;
    }

    /** The configuration; validated as the record's constructor does. */
    public ServerConfig build() {
      return new ServerConfig(
          host,
          port,
          metricsPort,
          httpPort,
          modelDir,
          devices,
          handlerThreads,
          maxQueuedRequests,
          maxQueuedPromptTokens,
          maxNewTokensLimit,
          defaultMaxNewTokens,
          maxUploadBytes,
          maxChunkBytes,
          maxSessions,
          sessionTtl,
          featureCacheBytes,
          kvBlocks,
          kvBlockSize,
          maxBatchTokens,
          maxRunningSequences,
          drainTimeout,
          workerStallTimeout,
          mediaDir,
          security,
          maxInlineMediaBytes,
          gpuMemoryFraction,
          decodeThreads,
          mediaNice,
          prefixCaching,
          attentionFp32);
    }

    /** See {@link ServerConfig#host()}. */
    public Builder host(String v) {
      host = v;
      return this;
    }

    /** See {@link ServerConfig#port()}. */
    public Builder port(int v) {
      port = v;
      return this;
    }

    /** See {@link ServerConfig#metricsPort()}. */
    public Builder metricsPort(int v) {
      metricsPort = v;
      return this;
    }

    /** See {@link ServerConfig#httpPort()}. */
    public Builder httpPort(int v) {
      httpPort = v;
      return this;
    }

    /** See {@link ServerConfig#modelDir()}. */
    public Builder modelDir(Optional<Path> v) {
      modelDir = v;
      return this;
    }

    /** See {@link ServerConfig#devices()}. */
    public Builder devices(String v) {
      devices = v;
      return this;
    }

    /** See {@link ServerConfig#handlerThreads()}. */
    public Builder handlerThreads(int v) {
      handlerThreads = v;
      return this;
    }

    /** See {@link ServerConfig#maxQueuedRequests()}. */
    public Builder maxQueuedRequests(int v) {
      maxQueuedRequests = v;
      return this;
    }

    /** See {@link ServerConfig#maxQueuedPromptTokens()}. */
    public Builder maxQueuedPromptTokens(int v) {
      maxQueuedPromptTokens = v;
      return this;
    }

    /** See {@link ServerConfig#maxNewTokensLimit()}. */
    public Builder maxNewTokensLimit(int v) {
      maxNewTokensLimit = v;
      return this;
    }

    /** See {@link ServerConfig#defaultMaxNewTokens()}. */
    public Builder defaultMaxNewTokens(int v) {
      defaultMaxNewTokens = v;
      return this;
    }

    /** See {@link ServerConfig#maxUploadBytes()}. */
    public Builder maxUploadBytes(long v) {
      maxUploadBytes = v;
      return this;
    }

    /** See {@link ServerConfig#maxChunkBytes()}. */
    public Builder maxChunkBytes(int v) {
      maxChunkBytes = v;
      return this;
    }

    /** See {@link ServerConfig#maxSessions()}. */
    public Builder maxSessions(int v) {
      maxSessions = v;
      return this;
    }

    /** See {@link ServerConfig#sessionTtl()}. */
    public Builder sessionTtl(Duration v) {
      sessionTtl = v;
      return this;
    }

    /** See {@link ServerConfig#featureCacheBytes()}. */
    public Builder featureCacheBytes(long v) {
      featureCacheBytes = v;
      return this;
    }

    /** See {@link ServerConfig#kvBlocks()}. */
    public Builder kvBlocks(int v) {
      kvBlocks = v;
      return this;
    }

    /** See {@link ServerConfig#kvBlockSize()}. */
    public Builder kvBlockSize(int v) {
      kvBlockSize = v;
      return this;
    }

    /** See {@link ServerConfig#maxBatchTokens()}. */
    public Builder maxBatchTokens(int v) {
      maxBatchTokens = v;
      return this;
    }

    /** See {@link ServerConfig#maxRunningSequences()}. */
    public Builder maxRunningSequences(int v) {
      maxRunningSequences = v;
      return this;
    }

    /** See {@link ServerConfig#drainTimeout()}. */
    public Builder drainTimeout(Duration v) {
      drainTimeout = v;
      return this;
    }

    /** See {@link ServerConfig#workerStallTimeout()}. */
    public Builder workerStallTimeout(Duration v) {
      workerStallTimeout = v;
      return this;
    }

    /** See {@link ServerConfig#mediaDir()}. */
    public Builder mediaDir(Optional<Path> v) {
      mediaDir = v;
      return this;
    }

    /** See {@link ServerConfig#security()}. */
    public Builder security(Security v) {
      security = v;
      return this;
    }

    /** See {@link ServerConfig#maxInlineMediaBytes()}. */
    public Builder maxInlineMediaBytes(long v) {
      maxInlineMediaBytes = v;
      return this;
    }

    /** See {@link ServerConfig#gpuMemoryFraction()}. */
    public Builder gpuMemoryFraction(double v) {
      gpuMemoryFraction = v;
      return this;
    }

    /** See {@link ServerConfig#decodeThreads()}. */
    public Builder decodeThreads(int v) {
      decodeThreads = v;
      return this;
    }

    /** See {@link ServerConfig#mediaNice()}. */
    public Builder mediaNice(int v) {
      mediaNice = v;
      return this;
    }

    /** See {@link ServerConfig#prefixCaching()}. */
    public Builder prefixCaching(boolean v) {
      prefixCaching = v;
      return this;
    }

    /** See {@link ServerConfig#attentionFp32()}; null: the model's default. */
    public Builder attentionFp32(@Nullable Boolean v) {
      attentionFp32 = v;
      return this;
    }
  }

  /** The parsed {@link #devices()} list. */
  public DeviceSpec deviceSpec() {
    return DeviceSpec.parse(devices);
  }

  /** The engine's part of this configuration. */
  public EngineConfig engine() {
    return new EngineConfig(
        modelDir,
        deviceSpec(),
        maxQueuedRequests,
        maxQueuedPromptTokens,
        defaultMaxNewTokens,
        maxNewTokensLimit,
        maxUploadBytes,
        maxSessions,
        sessionTtl,
        featureCacheBytes,
        kvBlocks,
        kvBlockSize,
        maxBatchTokens,
        maxRunningSequences,
        workerStallTimeout,
        mediaDir,
        security.sharedCaches(),
        gpuMemoryFraction,
        decodeThreads,
        mediaNice,
        prefixCaching,
        attentionFp32);
  }

  private static void requireRange(String flag, long value, long min, long max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          "--" + flag + " must be in [" + min + ", " + max + "], got " + value);
    }
  }

  private static void requirePositive(String flag, Duration d) {
    if (d.isZero() || d.isNegative()) {
      throw new IllegalArgumentException("--" + flag + " must be > 0, got " + d);
    }
  }
}

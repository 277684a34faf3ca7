package dev.llavast.server;

import dev.llavast.api.v1.FeatureCacheStatus;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.ServerLimits;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.api.v1.WorkerStatus;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.scheduler.SchedulerStats;
import io.grpc.BindableService;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole server: the gRPC process ({@link LlavaStServer}) over a loaded model
 * ({@link ServingRuntime}). {@link #start} returns once the ports are bound; readiness turns
 * SERVING when a real one-token generation has passed. {@link #drain} and {@link #close} stop it
 * in order: readiness off, no new calls, running calls finish or are cancelled, then the workers,
 * executors and model files are released.
 *
 * <p>Thread-safe.
 */
public final class Serving implements AutoCloseable, LlavaStServer.Backend {
  private static final Logger log = LoggerFactory.getLogger(Serving.class);

  private final ServingRuntime rt;
  private final MediaPipeline pipeline;
  private final DecoderProbe probe;
  private final MediaRefResolver mediaRefs;
  private final ExecutorService decodePool;
  private final ExecutorService framePool;
  private final LlavaStServer server;
  private final java.util.concurrent.ScheduledExecutorService health;

  private Serving(ServerConfig config, PrometheusRegistry registry, ServingRuntime rt) throws IOException {
    this.rt = rt;
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    this.probe = new DecoderProbe(decoder);
    int cpus = Math.max(2, Runtime.getRuntime().availableProcessors());
    // Decodes wait on per-frame work, so frames get their own pool (sharing one could deadlock).
    this.decodePool = MediaPipeline.newDecodePool(cpus, 4 * config.maxQueuedRequests());
    this.framePool = MediaPipeline.newFramePool(cpus);
    this.mediaRefs = new MediaRefResolver(rt.mediaStore, probe, decodePool);
    ModelConfig mc = rt.modelConfig();
    this.pipeline = new MediaPipeline(decoder, new ImagePreprocessor(), rt.scheduler, rt.featureCache, decodePool,
        framePool, MediaPipeline.Params.of(mc, rt.modelName + "@" + DemoCheckpoint.VERSION), rt.metrics);
    this.server = LlavaStServer.start(config, registry, this);
    this.health = Executors.newSingleThreadScheduledExecutor(ServingRuntime.daemon("health"));
    health.scheduleAtFixedRate(() -> server.setLive(rt.isLive()), 1, 1, TimeUnit.SECONDS);
  }

  /**
   * Loads the model, binds the ports and starts the readiness check (a real one-token generation).
   *
   * @throws IOException if the model cannot be read or a port cannot be bound
   */
  public static Serving start(ServerConfig config) throws IOException {
    PrometheusRegistry registry = new PrometheusRegistry();
    Metrics metrics = new Metrics(registry);
    ServingRuntime rt = ServingRuntime.start(config, metrics);
    Serving s;
    try {
      s = new Serving(config, registry, rt);
    } catch (IOException | RuntimeException e) {
      rt.close();
      throw e;
    }
    s.rt.warmUp().whenComplete((v, e) -> {
      if (e == null) {
        s.server.markReady();
        log.info("ready: a one-token generation passed on {}", s.rt.devices);
      } else {
        log.error("the warm-up generation failed: readiness stays NOT_SERVING", e);
      }
    });
    return s;
  }

  public LlavaStServer server() {
    return server;
  }

  /** The loaded model and its workers (for tests in this package). */
  ServingRuntime runtime() {
    return rt;
  }

  @Override
  public List<BindableService> services(Executor handlerExecutor, BooleanSupplier draining) {
    GenerationServiceImpl generation = new GenerationServiceImpl(rt, pipeline, mediaRefs, handlerExecutor, draining);
    return List.of(
        new MediaServiceImpl(rt.config, rt.mediaStore, probe, decodePool, pipeline),
        generation,
        new SessionServiceImpl(rt, generation, pipeline, mediaRefs, handlerExecutor));
  }

  @Override
  public void status(ServerStatus.Builder b) {
    SchedulerStats stats = rt.scheduler.stats();
    // admitted but not running: waiting (ready, or preempted) plus waiting for their prompt. Not
    // queuedRequests() on top: that admission count covers the same never-run sequences again.
    int queued = 0;
    for (SchedulerStats.WorkerStats w : stats.workers()) {
      queued += w.waiting() + w.pendingPrompt();
    }
    b.setQueueDepth(queued);
    for (SchedulerStats.WorkerStats w : stats.workers()) {
      b.addWorkers(WorkerStatus.newBuilder()
          .setDevice(rt.devices.get(w.index()))
          .setHealthy(w.healthy())
          .setRunningSequences(w.running())
          .setWaitingSequences(w.waiting() + w.pendingPrompt())
          .setKvBlocksTotal(w.totalBlocks())
          .setKvBlocksUsed(w.usedBlocks())
          .setKvUsageRatio(w.kvUsageRatio()));
    }
    var cs = rt.featureCache.stats();
    b.setFeatureCache(FeatureCacheStatus.newBuilder()
        .setEntries(rt.featureCache.entries())
        .setWeightBytes(rt.featureCache.weightBytes())
        .setMaxWeightBytes(rt.featureCache.maxWeightBytes())
        .setHits(cs.hitCount())
        .setMisses(cs.missCount())
        .setEvictions(cs.evictionCount())
        .setHitRatio(cs.hitRate()));
    b.setActiveSessions(rt.sessions.openCount());
  }

  @Override
  public Optional<ModelInfo> modelInfo() {
    ModelConfig c = rt.modelConfig();
    int videoTokens = 900 + 20 * 81; // the 900 constant slots plus the 20x81 slow STP tokens (spec §6.2)
    return Optional.of(ModelInfo.newBuilder()
        .setModelName(rt.modelName)
        .setRandomWeightsDemo(rt.demo)
        .setHiddenSize(c.hiddenSize())
        .setNumLayers(c.numHiddenLayers())
        .setNumAttentionHeads(c.numAttentionHeads())
        .setNumKeyValueHeads(c.numKeyValueHeads())
        .setVocabSize(c.vocabSize())
        .setCoordinateBins(c.numCoordinateBins())
        .setFramesPerVideo(c.numFrames())
        .setVideoPromptTokens(videoTokens)
        .setImagePromptTokens(c.vision().numPatches())
        .setContextLimitTokens(c.maxPositionEmbeddings())
        .setDtype(rt.dtype)
        .addAllDevices(rt.devices)
        .setLimits(ServerLimits.newBuilder()
            .setMaxUploadBytes(rt.config.maxUploadBytes())
            .setMaxChunkBytes(rt.config.maxChunkBytes())
            .setMaxNewTokens(rt.config.maxNewTokensLimit())
            .setMaxQueuedRequests(rt.config.maxQueuedRequests())
            .setMaxSessions(rt.config.maxSessions()))
        .build());
  }

  @Override
  public void cancelAll() {
    rt.shutdown(Duration.ZERO);
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
    decodePool.shutdownNow();
    framePool.shutdownNow();
    try {
      rt.close();
    } catch (IOException | RuntimeException e) {
      log.warn("error while releasing the model", e);
    }
  }

  @Override
  public void close() {
    drain(Duration.ZERO);
  }
}

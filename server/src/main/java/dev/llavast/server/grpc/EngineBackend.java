package dev.llavast.server.grpc;

import dev.llavast.api.v1.FeatureCacheStatus;
import dev.llavast.api.v1.KvPoolSizing;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.ServerLimits;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.api.v1.WorkerStatus;
import dev.llavast.models.ModelConfig;
import dev.llavast.scheduler.SchedulerStats;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.KvPool;
import io.grpc.BindableService;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;

/**
 * The gRPC API over an {@link Engine}: the media, generation and session services, and the model's
 * part of the admin service. Thread-safe.
 */
public final class EngineBackend implements LlavaStServer.Backend {
  private final Engine engine;
  private final ServerConfig config;

  public EngineBackend(Engine engine, ServerConfig config) {
    this.engine = engine;
    this.config = config;
  }

  @Override
  public List<BindableService> services(Executor handlerExecutor, BooleanSupplier draining) {
    RequestValidator validator = new RequestValidator(config);
    GenerationServiceImpl generation =
        new GenerationServiceImpl(engine, validator, handlerExecutor, draining);
    return List.of(
        new MediaServiceImpl(
            config.maxChunkBytes(),
            config.maxUploadBytes(),
            engine.mediaStore(),
            engine.probe(),
            engine.decodePool(),
            engine.pipeline()),
        generation,
        new SessionServiceImpl(engine, generation, validator, handlerExecutor));
  }

  @Override
  public void status(ServerStatus.Builder b) {
    SchedulerStats stats = engine.stats();
    // admitted but not running: waiting (ready, or preempted) plus waiting for their prompt. Not
    // queuedRequests() on top: that admission count covers the same never-run sequences again.
    int queued = 0;
    for (SchedulerStats.WorkerStats w : stats.workers()) {
      queued += w.waiting() + w.pendingPrompt();
    }
    b.setQueueDepth(queued);
    for (SchedulerStats.WorkerStats w : stats.workers()) {
      b.addWorkers(
          WorkerStatus.newBuilder()
              .setDevice(engine.devices().get(w.index()))
              .setHealthy(w.healthy())
              .setRunningSequences(w.running())
              .setWaitingSequences(w.waiting() + w.pendingPrompt())
              .setKvBlocksTotal(w.totalBlocks())
              .setKvBlocksUsed(w.usedBlocks())
              .setKvUsageRatio(w.kvUsageRatio()));
    }
    var cache = engine.featureCache();
    var cs = cache.stats();
    b.setFeatureCache(
        FeatureCacheStatus.newBuilder()
            .setEntries(cache.entries())
            .setWeightBytes(cache.weightBytes())
            .setMaxWeightBytes(cache.maxWeightBytes())
            .setHits(cs.hitCount())
            .setMisses(cs.missCount())
            .setEvictions(cs.evictionCount())
            .setHitRatio(cs.hitRate()));
    b.setActiveSessions(engine.sessions().openCount());
  }

  @Override
  public Optional<ModelInfo> modelInfo() {
    ModelConfig c = engine.modelConfig();
    return Optional.of(
        ModelInfo.newBuilder()
            .setModelName(engine.modelName())
            .setRandomWeightsDemo(engine.demo())
            .setHiddenSize(c.hiddenSize())
            .setNumLayers(c.numHiddenLayers())
            .setNumAttentionHeads(c.numAttentionHeads())
            .setNumKeyValueHeads(c.numKeyValueHeads())
            .setVocabSize(c.vocabSize())
            .setCoordinateBins(c.numCoordinateBins())
            .setFramesPerVideo(c.numFrames())
            .setVideoPromptTokens(engine.videoPromptTokens())
            .setImagePromptTokens(engine.imagePromptTokens())
            .setContextLimitTokens(c.maxPositionEmbeddings())
            .setDtype(engine.dtype())
            .addAllDevices(engine.devices())
            .setKvPool(kvPool(engine.kvPool()))
            .setLimits(
                ServerLimits.newBuilder()
                    .setMaxUploadBytes(config.maxUploadBytes())
                    .setMaxChunkBytes(config.maxChunkBytes())
                    .setMaxNewTokens(config.maxNewTokensLimit())
                    .setMaxQueuedRequests(config.maxQueuedRequests())
                    .setMaxSessions(config.maxSessions()))
            .build());
  }

  @Override
  public void cancelAll() {
    engine.shutdown(Duration.ZERO);
  }

  private static dev.llavast.api.v1.KvPool kvPool(KvPool p) {
    dev.llavast.api.v1.KvPool.Builder b =
        dev.llavast.api.v1.KvPool.newBuilder()
            .setSizing(
                switch (p.sizing()) {
                  case FLAG -> KvPoolSizing.KV_POOL_SIZING_FLAG;
                  case DEVICE -> KvPoolSizing.KV_POOL_SIZING_DEVICE;
                  case CPU_BUDGET -> KvPoolSizing.KV_POOL_SIZING_CPU_BUDGET;
                })
            .setBlocks(p.blocks())
            .setBlockSize(p.blockSize())
            .setTokens(p.tokens())
            .setBytes(p.bytes());
    if (p.sizing() == KvPool.Sizing.DEVICE) {
      b.setDeviceFreeBytes(p.deviceFreeBytes())
          .setDeviceTotalBytes(p.deviceTotalBytes())
          .setActivationHeadroomBytes(p.activationHeadroomBytes())
          .setGpuMemoryFraction(p.gpuMemoryFraction());
    }
    return b.build();
  }
}

package dev.llavast.server;

import ai.djl.Device;
import dev.llavast.models.LlavaSt;
import dev.llavast.models.LlavaStModel;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.ModelExecutor;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.scheduler.SchedulerListener;
import dev.llavast.scheduler.SchedulerStats;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything that serves generations, wired together: the checkpoint (or the random-weight demo),
 * one model executor per device, the scheduler that owns them, the media store, the feature cache,
 * the CPU pool for media decoding, and the metrics that observe them.
 *
 * <p>Built once at start-up on the main thread; its getters are thread-safe. {@link #close()} stops
 * the scheduler (which closes the executors), the pools and the model files.
 */
final class ServingRuntime implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ServingRuntime.class);
  /** KV pool budget on a CPU device when no block count is configured. */
  static final long CPU_KV_BUDGET_BYTES = 1L << 30;
  /** Tokens per sequence the default pool is sized for (a video prompt is ~2,540). */
  static final int DEFAULT_TOKENS_PER_SEQUENCE = 4096;

  final ServerConfig config;
  final LlavaSt model;
  final boolean demo;
  final String modelName;
  final List<String> devices;
  /** Compute dtype of the executors, e.g. {@code float32}. */
  final String dtype;
  final Scheduler scheduler;
  final Metrics metrics;
  final MediaStore mediaStore;
  final FeatureCache featureCache;
  final SessionStore sessions;
  final ExecutorService callbacks;
  private final ScheduledExecutorService watchdog;
  private final AtomicLongArray lastProgressNanos;
  private volatile boolean live = true;

  private ServingRuntime(ServerConfig config, Metrics metrics, LlavaSt model, boolean demo, List<String> devices,
      List<LlavaStModel> executors) throws IOException {
    this.config = config;
    this.metrics = metrics;
    this.model = model;
    this.demo = demo;
    this.devices = List.copyOf(devices);
    this.modelName = demo ? DemoCheckpoint.MODEL_NAME : model.directory().getFileName().toString();
    this.dtype = executors.get(0).computeDtype().name().toLowerCase(java.util.Locale.ROOT);
    this.lastProgressNanos = new AtomicLongArray(executors.size());
    for (int i = 0; i < executors.size(); i++) {
      lastProgressNanos.set(i, System.nanoTime());
    }
    this.callbacks = Executors.newFixedThreadPool(2, daemon("scheduler-callback"));
    int blocks = config.kvBlocks() > 0 ? config.kvBlocks() : defaultKvBlocks(executors.get(0), config);
    this.scheduler = Scheduler.builder()
        .executors(executors)
        .blockSize(config.kvBlockSize())
        .kvBlocks(blocks)
        .maxBatchTokens(config.maxBatchTokens())
        .maxRunningSequences(config.maxRunningSequences())
        .maxQueuedRequests(config.maxQueuedRequests())
        .maxQueuedPromptTokens(config.maxQueuedPromptTokens())
        .callbackExecutor(callbacks)
        .listener(new SchedulerListener() {
          @Override
          public void onStep(StepEvent e) {
            lastProgressNanos.set(e.workerIndex(), System.nanoTime());
            if (metrics != null) {
              metrics.stepDuration.observe(e.stepNanos() / 1e9);
              metrics.batchSize.observe(e.batchSize());
            }
          }

          @Override
          public void onEncode(int workerIndex, long nanos, boolean success) {
            lastProgressNanos.set(workerIndex, System.nanoTime());
          }
        })
        .build();
    this.mediaStore = new MediaStore(config.mediaDir(), config.maxUploadBytes());
    this.featureCache = new FeatureCache(config.featureCacheBytes(), callbacks, metrics);
    this.sessions = new SessionStore(config.maxSessions(), config.sessionTtl(), Duration.ofHours(1), System::nanoTime);
    if (metrics != null) {
      metrics.scheduler(scheduler::stats, i -> this.devices.get(i));
      metrics.sessions(sessions::openCount);
      metrics.modelInfo(modelName, dtype, String.join(",", devices), demo);
    }
    this.watchdog = Executors.newSingleThreadScheduledExecutor(daemon("worker-watchdog"));
    watchdog.scheduleAtFixedRate(this::checkLiveness, 1, 1, TimeUnit.SECONDS);
    log.info("KV pool: {} blocks of {} tokens per worker on {}", blocks, config.kvBlockSize(), devices);
  }

  /**
   * Opens the model ({@code --model-dir}, or the demo checkpoint written on first use), loads one
   * executor per device and starts the scheduler.
   */
  static ServingRuntime start(ServerConfig config, Metrics metrics) throws IOException {
    boolean demo = config.modelDir().isEmpty();
    Path dir = demo ? DemoCheckpoint.ensure(DemoCheckpoint.defaultCacheRoot()) : config.modelDir().get();
    if (demo) {
      log.warn("*** DEMO MODE: no --model-dir given; serving a RANDOM-WEIGHT LLaVA-ST checkpoint written to {}. "
          + "Answers are meaningless; the machinery is real. Pass --model-dir for the real model. ***", dir);
    }
    LlavaSt model = LlavaSt.open(dir);
    DeviceSpec spec = config.deviceSpec();
    List<LlavaStModel> executors = new ArrayList<>();
    try {
      for (int ordinal : spec.ordinals()) {
        Device device = spec.gpu() ? Device.gpu(ordinal) : Device.cpu();
        // On CPU, N workers share the cores: one intra-op thread each avoids oversubscription.
        executors.add(model.newExecutor(device, false, spec.gpu() ? 0 : 1));
      }
      return new ServingRuntime(config, metrics, model, demo, spec.names(), executors);
    } catch (IOException | RuntimeException e) {
      for (LlavaStModel ex : executors) {
        ex.close();
      }
      model.close();
      throw e;
    }
  }

  /** Blocks per worker when none is configured: enough for the running limit, within the device's memory. */
  static int defaultKvBlocks(ModelExecutor executor, ServerConfig config) {
    long perToken = executor.spec().kvBytesPerToken();
    long free = executor.spec().freeMemoryBytes();
    long budget = free > 0 ? (long) (free * 0.9) : CPU_KV_BUDGET_BYTES;
    long tokens = Math.min((long) config.maxRunningSequences() * DEFAULT_TOKENS_PER_SEQUENCE, budget / perToken);
    return (int) Math.max(1, tokens / config.kvBlockSize());
  }

  ModelConfig modelConfig() {
    return model.config();
  }

  /** Whether every worker loop made progress recently (or had nothing to do). */
  boolean isLive() {
    return live;
  }

  /**
   * Runs a real one-token generation (a text-only prompt through the scheduler and a model step).
   * Readiness depends on it.
   */
  java.util.concurrent.CompletableFuture<Void> warmUp() {
    RenderedPrompt r = model.chatTemplate().render(ChatTemplate.Media.NONE, "Hello");
    java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
    scheduler.submit(dev.llavast.scheduler.GenerationRequest.of("warm-up-" + System.nanoTime(),
            r.toPromptInput(null), dev.llavast.scheduler.SamplingParams.greedy(1, model.stopTokenIds())),
        new dev.llavast.scheduler.TokenSink() {
          @Override
          public boolean onToken(int tokenId, float logprob) {
            return true;
          }

          @Override
          public void onFinish(dev.llavast.scheduler.FinishReason reason, dev.llavast.scheduler.Usage usage) {
            done.complete(null);
          }

          @Override
          public void onError(dev.llavast.scheduler.SchedulerException error, dev.llavast.scheduler.Usage usage) {
            done.completeExceptionally(error);
          }
        });
    return done;
  }

  private void checkLiveness() {
    try {
      SchedulerStats stats = scheduler.stats();
      long now = System.nanoTime();
      boolean ok = true;
      for (SchedulerStats.WorkerStats w : stats.workers()) {
        boolean busy = w.running() + w.waiting() + w.pendingEncodes() > 0;
        if (!busy) {
          lastProgressNanos.set(w.index(), now); // an idle loop is not a stalled loop
        } else if (now - lastProgressNanos.get(w.index()) > config.workerStallTimeout().toNanos()) {
          ok = false;
          if (live) {
            log.error("worker {} ({}) made no progress for more than {} s with work queued: liveness NOT_SERVING",
                w.index(), w.device(), config.workerStallTimeout().toSeconds());
          }
        }
      }
      live = ok;
    } catch (RuntimeException e) {
      log.warn("liveness check failed", e);
    }
  }

  /**
   * Stops the scheduler: running requests get {@code grace} to finish, then are cancelled (their
   * sinks fail), and every executor is closed.
   */
  boolean shutdown(Duration grace) {
    return scheduler.shutdown(grace);
  }

  @Override
  public void close() throws IOException {
    watchdog.shutdownNow();
    scheduler.close();
    callbacks.shutdownNow();
    mediaStore.close();
    model.close();
  }

  static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}

package dev.llavast.server.generation;

import ai.djl.Device;
import dev.llavast.models.LlavaSt;
import dev.llavast.models.LlavaStModel;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.coords.TimeAxis;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.models.sampling.SamplingPresets;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.FinishReason;
import dev.llavast.scheduler.GenerationRequest;
import dev.llavast.scheduler.OutputConstraint;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.RequestHandle;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.scheduler.SchedulerListener;
import dev.llavast.scheduler.SchedulerStats;
import dev.llavast.scheduler.TokenSink;
import dev.llavast.scheduler.Usage;
import dev.llavast.server.concurrent.DaemonThreads;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.media.DecoderProbe;
import dev.llavast.server.media.FeatureCache;
import dev.llavast.server.media.MediaGeometry;
import dev.llavast.server.media.MediaPipeline;
import dev.llavast.server.media.MediaStore;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.observability.LivenessWatchdog;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.session.SessionStore;
import dev.llavast.server.tenancy.Tenant;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one generation engine: the checkpoint (or the random-weight demo), one model executor per
 * device, the scheduler that owns them, the media store, probe, decode pools, feature cache and
 * pipeline, and the session store. Every door that generates (gRPC, the {@code generate} command)
 * calls {@link #start}; nothing else runs a decode loop.
 *
 * <p>Order of work for one job (ARCHITECTURE.md, "One request, end to end"): the prompt is rendered
 * once with provisional geometry (its length does not depend on coordinate values, so admission
 * gets an exact count and malformed shorthand fails here); admission to the scheduler before any
 * media is decoded; then the media is resolved (feature cache, or one decode and one encode shared
 * by every request for it), the prompt is rendered for the media's real geometry and released to
 * the scheduler. Tokens flow to an {@link AnswerAssembler} that hands deltas and the final answer
 * to the job's {@link AnswerListener}.
 *
 * <p>Built once on the main thread; every other method is thread-safe and never blocks except
 * {@link #shutdown} and {@link #close}, which release everything this engine owns.
 */
public final class Engine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);

  /** KV pool budget on a device that reports no memory (CPU) when no block count is configured. */
  public static final long CPU_KV_BUDGET_BYTES = 1L << 30;

  /** Tokens per sequence the default pool is sized for (a video prompt is ~2,540). */
  public static final int DEFAULT_TOKENS_PER_SEQUENCE = 4096;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final EngineConfig config;
  private final LlavaSt model;
  private final boolean demo;
  private final String modelName;
  private final List<String> devices;
  private final String dtype;
  private final Scheduler scheduler;
  private final Metrics metrics;
  private final MediaStore mediaStore;
  private final DecoderProbe probe;
  private final FeatureCache featureCache;
  private final MediaPipeline pipeline;
  private final SessionStore sessions;
  private final ExecutorService callbacks;
  private final ExecutorService decodePool;
  private final ExecutorService framePool;
  private final LivenessWatchdog watchdog;
  private final int videoPromptTokens;
  private final KvPool kvPool;

  private Engine(
      EngineConfig config,
      Metrics metrics,
      LlavaSt model,
      boolean demo,
      List<LlavaStModel> executors,
      KvPool kvPool)
      throws IOException {
    this.config = config;
    this.metrics = metrics;
    this.model = model;
    this.demo = demo;
    this.devices = config.devices().names();
    this.modelName = demo ? DemoCheckpoint.MODEL_NAME : model.directory().getFileName().toString();
    this.dtype = executors.get(0).computeDtype().name().toLowerCase(Locale.ROOT);
    this.callbacks = Executors.newFixedThreadPool(2, DaemonThreads.factory("scheduler-callback"));
    this.watchdog = new LivenessWatchdog(executors.size(), config.workerStallTimeout());
    this.kvPool = kvPool;
    int blocks = kvPool.blocks();
    this.scheduler =
        Scheduler.builder()
            .executors(executors)
            .blockSize(config.kvBlockSize())
            .kvBlocks(blocks)
            .maxBatchTokens(config.maxBatchTokens())
            .maxRunningSequences(config.maxRunningSequences())
            .prefixCaching(config.prefixCaching())
            .maxQueuedRequests(config.maxQueuedRequests())
            .maxQueuedPromptTokens(config.maxQueuedPromptTokens())
            .callbackExecutor(callbacks)
            .listener(
                new SchedulerListener() {
                  @Override
                  public void onStep(StepEvent e) {
                    watchdog.progress(e.workerIndex());
                    metrics.stepDuration.observe(e.stepNanos() / 1e9);
                    metrics.batchSize.observe(e.batchSize());
                  }

                  @Override
                  public void onEncode(int workerIndex, long nanos, boolean success) {
                    watchdog.progress(workerIndex);
                  }
                })
            .build();
    this.mediaStore = new MediaStore(config.mediaDir(), config.maxUploadBytes());
    MediaDecoder decoder =
        new MediaDecoder(MediaLimits.defaults(), config.effectiveDecodeThreads());
    this.probe = new DecoderProbe(decoder);
    int cpus = Math.max(2, Runtime.getRuntime().availableProcessors());
    // Decodes wait on per-frame work, so frames get their own pool (sharing one could deadlock).
    // Both run below the workers' priority: a new video must not stretch running streams' steps.
    this.decodePool =
        MediaPipeline.newDecodePool(cpus, 4 * config.maxQueuedRequests(), config.mediaNice());
    this.framePool = MediaPipeline.newFramePool(cpus, config.mediaNice());
    this.featureCache = new FeatureCache(config.featureCacheBytes(), callbacks, metrics);
    this.pipeline =
        new MediaPipeline(
            decoder,
            new ImagePreprocessor(),
            scheduler,
            featureCache,
            decodePool,
            framePool,
            MediaPipeline.Params.of(model.config(), modelName + "@" + DemoCheckpoint.VERSION)
                .withSharedCaches(config.sharedCaches()),
            metrics);
    this.sessions =
        new SessionStore(
            config.maxSessions(), config.sessionTtl(), Duration.ofHours(1), System::nanoTime);
    this.videoPromptTokens =
        model.chatTemplate().render(ChatTemplate.Media.VIDEO, "?").visualLength();
    metrics.scheduler(scheduler::stats, this.devices::get);
    metrics.sessions(sessions::openCount);
    metrics.forcedTokens(() -> executors.stream().mapToLong(LlavaStModel::forcedTokens).sum());
    metrics.nonFiniteLogits(
        () -> executors.stream().mapToLong(LlavaStModel::nonFiniteLogits).sum());
    metrics.modelInfo(modelName, dtype, String.join(",", devices), demo);
    watchdog.start(scheduler::stats);
    metrics.workerProgress(executors.size(), watchdog::secondsSinceProgress, this.devices::get);
    log.info("KV pool on {}: {}", devices, kvPool.describe());
  }

  /**
   * Opens the model ({@code modelDir}, or the demo checkpoint written on first use), loads one
   * executor per device and starts the scheduler. Main thread.
   *
   * @throws IOException if the checkpoint or the media directory cannot be read
   */
  public static Engine start(EngineConfig config, Metrics metrics) throws IOException {
    return start(config, metrics, DeviceReport.djl());
  }

  /**
   * As {@link #start(EngineConfig, Metrics)}, with what the devices report coming from {@code
   * report}: with {@code cuda} devices, {@link DeviceCheck} runs before anything is loaded; the KV
   * pool is sized by {@link KvPoolSizer} once the weights are. Main thread.
   *
   * @throws DeviceUnavailableException if the listed devices cannot serve (the message says what to
   *     set)
   * @throws IOException if the checkpoint or the media directory cannot be read
   */
  public static Engine start(EngineConfig config, Metrics metrics, DeviceReport report)
      throws IOException {
    DeviceCheck.require(config.devices(), config.kvBlocks(), report, System.getenv());
    boolean demo = config.modelDir().isEmpty();
    Path dir =
        demo ? DemoCheckpoint.ensure(DemoCheckpoint.defaultCacheRoot()) : config.modelDir().get();
    if (demo) {
      log.warn(
          "*** DEMO MODE: no --model-dir given; serving a RANDOM-WEIGHT LLaVA-ST checkpoint written to {}. "
              + "Answers are meaningless; the machinery is real. Pass --model-dir for the real model. ***",
          dir);
    }
    LlavaSt model = LlavaSt.open(dir);
    DeviceSpec spec = config.devices();
    List<LlavaStModel> executors = new ArrayList<>();
    List<Device> deviceList = new ArrayList<>();
    try {
      for (int ordinal : spec.ordinals()) {
        deviceList.add(spec.gpu() ? Device.gpu(ordinal) : Device.cpu());
      }
      // Every device loads on its own thread from the one mapped checkpoint (two GPUs load in about
      // the time of one). On CPU, N workers share the cores: one intra-op thread each avoids
      // oversubscription. Attention scores in fp32 as configured; unset, the model's default (on
      // for fp16 devices).
      executors.addAll(
          model.newExecutors(deviceList, false, spec.gpu() ? 0 : 1, config.attentionFp32()));
      KvPool pool =
          KvPoolSizer.size(executors, deviceList, config, report, model.config().vocabSize());
      return new Engine(config, metrics, model, demo, executors, pool);
    } catch (IOException | RuntimeException e) {
      for (LlavaStModel ex : executors) {
        ex.close();
      }
      model.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------------------ generation

  /**
   * Answers one job. Never throws and never blocks: every outcome, including a refusal before the
   * job is queued, ends {@code listener} exactly once (see {@link AnswerListener} for the threads).
   *
   * @return a handle that cancels the job (its listener then ends with CANCELLED)
   */
  public Generation start(GenerationJob job, AnswerListener listener) {
    long arrival = System.nanoTime();
    AnswerAssembler sink =
        new AnswerAssembler(
            job.sampling().stops(),
            model.tokenizer().newStreamDecoder(),
            listener,
            metrics,
            System::nanoTime);
    try {
      String requestId = job.requestId().isEmpty() ? newRequestId() : job.requestId();
      ChatTemplate.Media media =
          job.media().kind() == DecodedMedia.Kind.IMAGE
              ? ChatTemplate.Media.IMAGE
              : ChatTemplate.Media.VIDEO;
      // Render once with provisional geometry: the length is exact (each coordinate is one value
      // token whatever its value) and malformed shorthand is refused before anything is queued.
      RenderedPrompt provisional =
          chat(
              job,
              media,
              PromptRenderer.render(
                  job.question(), job.task(), new PromptRenderer.Geometry(2, 1, 1, 1)));
      SamplingParams sampling = sampling(job.sampling()).withConstraint(constraint(job));
      CompletableFuture<PromptInput> prompt = new CompletableFuture<>();
      StoredMedia known = job.media().stored().getNow(null);
      // The scheduler knows the id inside the tenant's namespace: another tenant's Abort cannot
      // reach it.
      RequestHandle handle =
          scheduler.submit(
              new GenerationRequest(
                  job.tenant().scope(requestId),
                  prompt,
                  provisional.tokenIds().length,
                  known == null ? null : known.mediaId(),
                  sampling,
                  job.priority(),
                  job.timeout()),
              sink);

      // Media work starts only after admission.
      long mediaStart = System.nanoTime();
      AtomicReference<StoredMedia> stored = new AtomicReference<>();
      job.media()
          .stored()
          .thenCompose(
              s -> {
                stored.set(s);
                return pipeline.resolve(s, job.clip(), OptionalInt.empty());
              })
          .whenComplete(
              (resolved, error) -> {
                if (error != null) {
                  prompt.completeExceptionally(Failures.toApi(error));
                  return;
                }
                try {
                  prompt.complete(
                      bind(
                          job,
                          requestId,
                          Objects.requireNonNull(stored.get(), "set before resolve"),
                          resolved,
                          media,
                          sink,
                          arrival,
                          mediaStart));
                } catch (RuntimeException e) {
                  prompt.completeExceptionally(Failures.toApi(e));
                }
              });
      return handle::cancel;
    } catch (RuntimeException e) {
      sink.fail(Failures.toApi(e));
      return () -> {};
    }
  }

  /** A started job. Any thread. */
  @FunctionalInterface
  public interface Generation {
    /** Cancels the job if it is still running; idempotent. */
    void cancel();
  }

  /**
   * Media resolved: render the real prompt and bind the assembler's context. Returns the prompt to
   * release.
   */
  private PromptInput bind(
      GenerationJob job,
      String requestId,
      StoredMedia stored,
      MediaPipeline.Resolved r,
      ChatTemplate.Media media,
      AnswerAssembler sink,
      long arrival,
      long mediaStart) {
    MediaGeometry g = r.geometry();
    String question =
        PromptRenderer.render(
            job.question(),
            job.task(),
            new PromptRenderer.Geometry(g.clipFrameCount(), g.fps(), g.widthPx(), g.heightPx()));
    RenderedPrompt rendered = chat(job, media, question);
    CoordinateCodec codec = model.codec();
    TimeAxis time =
        g.video() && g.fps() > 0 ? codec.time(g.clipStartFrame(), g.clipEndFrame(), g.fps()) : null;
    long mediaElapsed = System.nanoTime() - mediaStart;
    long decode = Math.min(r.decodeTime().toNanos(), mediaElapsed);
    long encode = Math.min(r.encodeTime().toNanos(), mediaElapsed - decode);
    sink.bind(
        new AnswerAssembler.Context(
            requestId,
            stored.mediaId(),
            r.mediaKey(),
            stored.kind(),
            job.task(),
            g,
            r.cacheHit(),
            rendered.visualLength(),
            arrival,
            decode,
            encode,
            question,
            rendered),
        codec.parser(time, codec.space(g.widthPx(), g.heightPx())),
        codec::isBin);
    return rendered.toPromptInput(r.features());
  }

  /** The whole conversation (system prompt, earlier turns, this question) as token ids. */
  private RenderedPrompt chat(GenerationJob job, ChatTemplate.Media media, String question) {
    String system =
        job.systemPrompt() == null || job.systemPrompt().isEmpty() ? null : job.systemPrompt();
    return model.chatTemplate().render(system, media, job.history(), question);
  }

  private SamplingParams sampling(Sampling s) {
    int max = maxNewTokens(s);
    long seed = s.seed() == null ? 0L : s.seed();
    int[] stops = model.stopTokenIds();
    if (s.referencePreset()) {
      SamplingParams ref = SamplingPresets.reference(seed, max, stops);
      return new SamplingParams(
          ref.temperature(),
          ref.topP(),
          ref.topK(),
          ref.repetitionPenalty(),
          seed,
          max,
          stops,
          s.logprobs());
    }
    return new SamplingParams(
        s.temperature(),
        s.topP() == 0 ? 1f : s.topP(),
        s.topK(),
        s.repetitionPenalty() == 0 ? 1f : s.repetitionPenalty(),
        seed,
        max,
        stops,
        s.logprobs());
  }

  /**
   * The job's output constraint for the executor, checked against the task, the media and the token
   * limit here, for every door alike.
   *
   * @throws ApiException INVALID_ARGUMENT on {@code sampling.constraints} when it cannot be
   *     honoured
   */
  private OutputConstraint constraint(GenerationJob job) {
    Sampling.Constraints c = job.sampling().constraints();
    if (c == Sampling.Constraints.OFF) {
      return OutputConstraint.NONE;
    }
    OutputConstraint.Kind kind =
        c == Sampling.Constraints.TASK_SHAPE
            ? OutputConstraint.Kind.TASK_SHAPE
            : OutputConstraint.Kind.COORDINATES;
    OutputConstraint oc =
        new OutputConstraint(
            kind, job.task().name(), job.media().kind() != DecodedMedia.Kind.IMAGE);
    String why = model.grammar().refusal(oc, maxNewTokens(job.sampling()));
    if (why != null) {
      throw ApiException.invalid("sampling.constraints", why);
    }
    metrics.constrainedRequests.labelValues(c.name().toLowerCase(Locale.ROOT)).inc();
    return oc;
  }

  /**
   * The request's token limit, or the default when it sets none.
   *
   * @throws ApiException INVALID_ARGUMENT on {@code sampling.max_new_tokens} above the server's
   *     limit
   */
  private int maxNewTokens(Sampling s) {
    if (s.maxNewTokens() > config.maxNewTokensLimit()) {
      throw ApiException.invalid(
          "sampling.max_new_tokens",
          "must be at most " + config.maxNewTokensLimit() + ", got " + s.maxNewTokens());
    }
    return s.maxNewTokens() == 0 ? config.defaultMaxNewTokens() : s.maxNewTokens();
  }

  private static String newRequestId() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return "req-" + HexFormat.of().formatHex(b);
  }

  /** Cancels an in-flight request by id (any door may have started it); false if none runs. */
  public boolean cancel(Tenant tenant, String requestId) {
    return scheduler.cancel(tenant.scope(requestId));
  }

  /**
   * Runs a real one-token generation (a text-only prompt through the scheduler and a model step).
   * Readiness depends on it. Completes on a worker thread.
   */
  public CompletableFuture<Void> warmUp() {
    RenderedPrompt r = model.chatTemplate().render(ChatTemplate.Media.NONE, "Hello");
    CompletableFuture<Void> done = new CompletableFuture<>();
    scheduler.submit(
        GenerationRequest.of(
            "warm-up-" + System.nanoTime(),
            r.toPromptInput(null),
            SamplingParams.greedy(1, model.stopTokenIds())),
        new TokenSink() {
          @Override
          public boolean onToken(int tokenId, float logprob) {
            return true;
          }

          @Override
          public void onFinish(FinishReason reason, Usage usage) {
            done.complete(null);
          }

          @Override
          public void onError(SchedulerException error, Usage usage) {
            done.completeExceptionally(error);
          }
        });
    return done;
  }

  // ------------------------------------------------------------------------------ media

  /**
   * Stores media that arrived whole (inline in a request, or a file the {@code generate} command
   * read) through the same hashing, size cap and probe as an upload, on the decode pool.
   *
   * @param chunks the bytes; for {@link DecodedMedia.Kind#FRAMES}, one encoded image per chunk
   * @param framesFps the frame rate of a frame sequence (0 otherwise)
   * @return completes with the stored media, or fails with an {@link ApiException}
   */
  public CompletableFuture<StoredMedia> storeWhole(
      Tenant tenant, DecodedMedia.Kind kind, Iterable<ByteBuffer> chunks, double framesFps) {
    return mediaStore.putInlineAsync(tenant, kind, chunks, framesFps, probe, decodePool);
  }

  /**
   * The stored media with this id.
   *
   * @throws ApiException MEDIA_NOT_FOUND if there is none
   */
  public StoredMedia media(Tenant tenant, String mediaId) {
    return mediaStore
        .get(tenant, mediaId)
        .orElseThrow(
            () ->
                ApiException.of(
                    Reason.MEDIA_NOT_FOUND,
                    "no media with id '"
                        + mediaId
                        + "'; upload it first (MediaService.UploadMedia)"));
  }

  /**
   * Starts loading the features of a media item now (e.g. when a session opens), so its first
   * question does not wait.
   */
  public void prefetch(StoredMedia media, @Nullable ClipRange clip) {
    pipeline.resolve(media, clip, OptionalInt.empty());
  }

  // ------------------------------------------------------------------------------ parts

  public MediaStore mediaStore() {
    return mediaStore;
  }

  public DecoderProbe probe() {
    return probe;
  }

  /** The bounded CPU pool that stores, probes and decodes media (a full pool refuses new work). */
  public ExecutorService decodePool() {
    return decodePool;
  }

  public MediaPipeline pipeline() {
    return pipeline;
  }

  public FeatureCache featureCache() {
    return featureCache;
  }

  public SessionStore sessions() {
    return sessions;
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  public LlavaSt model() {
    return model;
  }

  public ModelConfig modelConfig() {
    return model.config();
  }

  public EngineConfig config() {
    return config;
  }

  /** True when serving the random-weight demo checkpoint. */
  public boolean demo() {
    return demo;
  }

  public String modelName() {
    return modelName;
  }

  /** Device names, e.g. {@code cpu:0}, one per worker. */
  public List<String> devices() {
    return devices;
  }

  /** The KV pool each worker got, and how its size was chosen. */
  public KvPool kvPool() {
    return kvPool;
  }

  /** Compute dtype of the executors, e.g. {@code float32}. */
  public String dtype() {
    return dtype;
  }

  /** Positions a video's features fill in a prompt, from the chat template. */
  public int videoPromptTokens() {
    return videoPromptTokens;
  }

  /** Positions an image's features fill in a prompt. */
  public int imagePromptTokens() {
    return model.config().vision().numPatches();
  }

  /** Whether every worker loop made progress recently (or had nothing to do). */
  public boolean isLive() {
    return watchdog.isLive();
  }

  /** A snapshot of the scheduler's queues and workers. */
  public SchedulerStats stats() {
    return scheduler.stats();
  }

  /**
   * Stops the scheduler: running requests get {@code grace} to finish, then are cancelled (their
   * listeners end with an error), and every executor is closed. Blocks the caller.
   */
  public boolean shutdown(Duration grace) {
    return scheduler.shutdown(grace);
  }

  /**
   * Releases everything: the scheduler (and its executors), the pools, the media files, the model.
   */
  @Override
  public void close() throws IOException {
    watchdog.close();
    scheduler.close();
    callbacks.shutdownNow();
    decodePool.shutdownNow();
    framePool.shutdownNow();
    mediaStore.close();
    model.close();
  }
}

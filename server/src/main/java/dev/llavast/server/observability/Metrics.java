package dev.llavast.server.observability;

import dev.llavast.models.media.StageTimes;
import dev.llavast.scheduler.SchedulerStats;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * The server's own Prometheus metrics, with the stable names of {@code shared/docs/ANCHORS.md}
 * (modelled on vLLM's, so dashboards translate). No label ever carries a request, media or session
 * id. Thread-safe: every method may be called from any thread (handlers, workers, cache loaders).
 */
public final class Metrics {
  private static final double[] TTFT = {
    0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40
  };
  private static final double[] INTER_TOKEN = {
    0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.64
  };
  private static final double[] STEP = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
  };
  private static final double[] BATCH = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  private static final double[] TOKENS = {
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768
  };

  public final Counter promptTokens;
  public final Counter generationTokens;
  public final Counter requestSuccess;
  public final Counter requestFailure;
  public final Counter featureCacheRequests;
  public final Counter constrainedRequests;
  public final Counter httpRequests;
  public final Histogram ttft;
  public final Histogram interToken;
  public final Histogram e2e;
  public final Histogram queueTime;
  public final Histogram mediaDecode;
  public final Counter mediaStageCpu;
  public final Counter mediaStageFrames;
  public final Histogram visionEncode;
  public final Histogram stepDuration;
  public final Histogram batchSize;
  public final Histogram requestPromptTokens;
  public final Histogram requestGenerationTokens;
  private final PrometheusRegistry registry;

  /**
   * Metrics that nobody scrapes (their own registry): for the {@code generate} command and tests,
   * so that no caller ever checks for a missing instance.
   */
  private static final String[] MEDIA_STAGES = {"decode", "convert", "resize"};

  /**
   * Adds one media load's per-stage CPU time and frame counts. Any thread (the decode pool's, once
   * the load has finished).
   */
  public void mediaStages(StageTimes t) {
    mediaStageCpu.labelValues("decode").inc(t.decodeCpuNanos() / 1e9);
    mediaStageCpu.labelValues("convert").inc(t.convertCpuNanos() / 1e9);
    mediaStageCpu.labelValues("resize").inc(t.resizeCpuNanos() / 1e9);
    mediaStageFrames.labelValues("decode").inc((double) t.framesDecoded());
    mediaStageFrames.labelValues("convert").inc((double) t.framesConverted());
    mediaStageFrames.labelValues("resize").inc((double) t.framesResized());
  }

  public static Metrics noop() {
    return new Metrics(new PrometheusRegistry());
  }

  public Metrics(PrometheusRegistry registry) {
    this.registry = registry;
    promptTokens =
        counter(
            "llavast_prompt_tokens_total",
            "Prompt tokens processed (prefilled or served from the prefix cache).");
    generationTokens = counter("llavast_generation_tokens_total", "Tokens generated.");
    requestSuccess =
        Counter.builder()
            .name("llavast_request_success_total")
            .help("Requests that finished, by finish reason.")
            .labelNames("finish_reason")
            .register(registry);
    requestFailure =
        Counter.builder()
            .name("llavast_request_failure_total")
            .help("Requests that failed, by error reason (errors.proto).")
            .labelNames("reason")
            .register(registry);
    featureCacheRequests =
        Counter.builder()
            .name("llavast_feature_cache_requests_total")
            .help("Feature cache lookups by result.")
            .labelNames("result")
            .register(registry);
    httpRequests =
        Counter.builder()
            .name("http_requests_total")
            .help("Requests to the OpenAI-compatible HTTP API, by route and status code.")
            .labelNames("route", "code")
            .register(registry);
    constrainedRequests =
        Counter.builder()
            .name("llavast_constrained_requests_total")
            .help("Requests with coordinate-constrained decoding, by mode.")
            .labelNames("mode")
            .register(registry);
    // Known label values start at 0, so rates and ratios exist before the first event (an alert on
    // a
    // hit ratio must see a pod that never hit).
    for (String result : new String[] {"hit", "miss"}) {
      featureCacheRequests.labelValues(result);
    }
    for (dev.llavast.server.errors.Reason reason : dev.llavast.server.errors.Reason.values()) {
      requestFailure.labelValues(reason.name());
    }
    for (String mode : new String[] {"coordinates", "task_shape"}) {
      constrainedRequests.labelValues(mode);
    }
    ttft =
        histogram(
            "llavast_time_to_first_token_seconds",
            "Time from arrival to the first generated token.",
            TTFT);
    interToken =
        histogram(
            "llavast_inter_token_latency_seconds",
            "Time between consecutive generated tokens.",
            INTER_TOKEN);
    e2e =
        exponential(
            "llavast_e2e_request_latency_seconds", "Time from arrival to the final message.");
    queueTime =
        exponential(
            "llavast_request_queue_time_seconds", "Time waiting for admission to a worker.");
    mediaDecode =
        exponential(
            "llavast_media_decode_seconds", "Time decoding and preprocessing one media item.");
    mediaStageCpu =
        Counter.builder()
            .name("llavast_media_stage_cpu_seconds_total")
            .help(
                "CPU time of media preprocessing by stage: decode (demux and decode, every frame up"
                    + " to the last sampled one), convert (to RGB, sampled frames), resize (sampled"
                    + " frames, summed over threads).")
            .labelNames("stage")
            .register(registry);
    mediaStageFrames =
        Counter.builder()
            .name("llavast_media_stage_frames_total")
            .help("Frames through each media preprocessing stage (see the CPU time's stages).")
            .labelNames("stage")
            .register(registry);
    for (String stage : MEDIA_STAGES) {
      mediaStageCpu.labelValues(stage);
      mediaStageFrames.labelValues(stage);
    }
    visionEncode =
        exponential(
            "llavast_vision_encode_seconds", "Time running the vision encoder on one media item.");
    stepDuration =
        histogram(
            "llavast_step_duration_seconds",
            "Duration of one scheduler step (model execution included).",
            STEP);
    batchSize = histogram("llavast_batch_size", "Sequences in one scheduler step.", BATCH);
    requestPromptTokens =
        histogram("llavast_request_prompt_tokens", "Prompt tokens per request.", TOKENS);
    requestGenerationTokens =
        histogram("llavast_request_generation_tokens", "Generated tokens per request.", TOKENS);
  }

  /**
   * Registers {@code llavast_model_info} (value 1, with descriptive labels of the loaded model).
   */
  public void modelInfo(String model, String dtype, String devices, boolean randomWeights) {
    Gauge.builder()
        .name("llavast_model_info")
        .help("The loaded model; the value is always 1.")
        .labelNames("model", "dtype", "devices", "random_weights")
        .register(registry)
        .labelValues(model, dtype, devices, Boolean.toString(randomWeights))
        .set(1);
  }

  /**
   * {@code llavast_forced_tokens_total}: tokens a constraint left no choice about, emitted without
   * sampling.
   */
  public void forcedTokens(DoubleSupplier total) {
    counterFrom(
        "llavast_forced_tokens_total",
        "Tokens emitted without sampling because the output constraint allowed only one.",
        total);
  }

  /**
   * {@code llavast_nonfinite_logits_total}: sequences failed (INTERNAL / MODEL_FAILURE) because the
   * model's logits for them were NaN or infinite; each failed alone, never answered with the argmax
   * of a NaN row.
   */
  public void nonFiniteLogits(DoubleSupplier total) {
    counterFrom(
        "llavast_nonfinite_logits_total",
        "Sequences failed because the model's logits for them were not finite.",
        total);
  }

  /**
   * Feature-cache gauges and counters read from the cache when scraped.
   *
   * @param weightBytes current weight of the cache
   * @param evictions evictions so far
   */
  public void featureCache(DoubleSupplier weightBytes, DoubleSupplier evictions) {
    gaugeFrom(
        "llavast_feature_cache_bytes", "Host bytes held by cached visual features.", weightBytes);
    counterFrom(
        "llavast_feature_cache_evictions_total", "Feature cache entries evicted.", evictions);
  }

  /**
   * Scheduler gauges and counters, read from a fresh {@link SchedulerStats} snapshot when scraped:
   * running and waiting requests, KV usage per worker, preemptions and prefix-cache tokens.
   *
   * @param workerName the label of worker {@code i} (unique per worker, e.g. {@code cpu:1})
   */
  public void scheduler(
      Supplier<SchedulerStats> stats, java.util.function.IntFunction<String> workerName) {
    gaugeFrom(
        "llavast_requests_running",
        "Sequences running on the workers.",
        () -> stats.get().running());
    gaugeFrom(
        "llavast_requests_waiting",
        "Requests admitted and waiting to run, media still loading included (the autoscaling signal).",
        () -> {
          SchedulerStats s = stats.get();
          return s.queuedRequests() + s.waiting();
        });
    perWorkerGauge(
        "llavast_kv_cache_usage_ratio",
        "Fraction of KV blocks in use, per worker.",
        stats,
        workerName,
        w -> w.kvUsageRatio());
    perWorkerGauge(
        "llavast_worker_healthy",
        "1 while a worker's steps succeed, 0 after repeated step failures, per worker.",
        stats,
        workerName,
        w -> w.healthy() ? 1 : 0);
    counterFrom(
        "llavast_preemptions_total",
        "Sequences preempted for lack of KV blocks (recomputed later).",
        () -> (double) stats.get().preemptionsTotal());
    counterFrom(
        "llavast_prefix_cache_queries_total",
        "Prompt tokens looked up in the KV prefix cache.",
        () ->
            (double)
                stats.get().workers().stream()
                    .mapToLong(SchedulerStats.WorkerStats::prefixQueryTokensTotal)
                    .sum());
    counterFrom(
        "llavast_prefix_cache_hits_total",
        "Prompt tokens served from the KV prefix cache.",
        () ->
            (double)
                stats.get().workers().stream()
                    .mapToLong(SchedulerStats.WorkerStats::prefixHitTokensTotal)
                    .sum());
  }

  /**
   * {@code llavast_worker_seconds_since_progress{worker}}: how long a worker with work queued has
   * made no step or encode (under a second while idle); the liveness probe fails past the stall
   * timeout.
   */
  public void workerProgress(
      int workers,
      java.util.function.IntToDoubleFunction secondsSinceProgress,
      java.util.function.IntFunction<String> workerName) {
    GaugeWithCallback.builder()
        .name("llavast_worker_seconds_since_progress")
        .help(
            "Seconds since a busy worker last made progress (under a second when idle), per worker.")
        .labelNames("worker")
        .callback(
            cb -> {
              for (int i = 0; i < workers; i++) {
                cb.call(secondsSinceProgress.applyAsDouble(i), workerName.apply(i));
              }
            })
        .register(registry);
  }

  /**
   * {@code llavast_ready}: 1 while the server takes new requests (loaded, warmed up, not draining).
   */
  public void readiness(java.util.function.BooleanSupplier ready) {
    gaugeFrom(
        "llavast_ready",
        "1 while the server is ready for new requests, 0 while loading or draining.",
        () -> ready.getAsBoolean() ? 1 : 0);
  }

  /** Active sessions, read when scraped. */
  public void sessions(java.util.function.IntSupplier open) {
    gaugeFrom("llavast_sessions_active", "Open sessions.", open::getAsInt);
  }

  /** A gauge labelled {@code worker}: {@code value} of each worker's stats when scraped. */
  private void perWorkerGauge(
      String name,
      String help,
      Supplier<SchedulerStats> stats,
      java.util.function.IntFunction<String> workerName,
      java.util.function.ToDoubleFunction<SchedulerStats.WorkerStats> value) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames("worker")
        .callback(
            cb -> {
              for (SchedulerStats.WorkerStats w : stats.get().workers()) {
                cb.call(value.applyAsDouble(w), workerName.apply(w.index()));
              }
            })
        .register(registry);
  }

  /** A counter without labels whose value {@code total} gives when scraped. */
  private void counterFrom(String name, String help, DoubleSupplier total) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> cb.call(total.getAsDouble()))
        .register(registry);
  }

  /** A gauge without labels whose value {@code value} gives when scraped. */
  private void gaugeFrom(String name, String help, DoubleSupplier value) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> cb.call(value.getAsDouble()))
        .register(registry);
  }

  private Counter counter(String name, String help) {
    return Counter.builder().name(name).help(help).register(registry);
  }

  private Histogram histogram(String name, String help, double[] bounds) {
    return Histogram.builder().name(name).help(help).classicUpperBounds(bounds).register(registry);
  }

  private Histogram exponential(String name, String help) {
    // 0.01 s doubling 17 times reaches ~655 s: covers everything up to the 600 s the anchors ask
    // for.
    return Histogram.builder()
        .name(name)
        .help(help)
        .classicExponentialUpperBounds(0.01, 2, 17)
        .register(registry);
  }
}

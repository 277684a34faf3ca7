package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.scheduler.FinishReason;
import dev.llavast.scheduler.GenerationRequest;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.scheduler.SchedulerBuilder;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.scheduler.SchedulerListener;
import dev.llavast.scheduler.TokenSink;
import dev.llavast.scheduler.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * Benchmark main (not a test): generated tokens/s of the real scheduler over one real {@link
 * LlavaStModel} CPU executor (the {@code SMALL} random-weight checkpoint written by {@link
 * TinyCheckpoints}) at 1, 8 and 32 concurrent streams, and the scheduler's bookkeeping per step
 * against the model's time per step, from {@link SchedulerListener.StepEvent}s.
 *
 * <p>Each level uses its own video (synthetic {@code [1620, hidden]} features, a fresh media key),
 * so the prompts are the full ~2,540-token video prompts. A primer request on that video runs first
 * (its cold prefill is reported as {@code primer_s}); then all streams are submitted at once, each
 * with a different question, greedy, {@code maxNewTokens} tokens and no stop tokens so that every
 * stream generates the full length. Their prompts hit the video prefix in the cache and prefill
 * only the question. Measured from the first submission to the last finish:
 *
 * <ul>
 *   <li>{@code tok/s}: generated tokens / wall time;
 *   <li>{@code decode tok/s}: tokens of the pure-decode steps / the iteration time of those steps
 *       (step + bookkeeping);
 *   <li>{@code book_us} mean/p99 and {@code model_ms} mean over all steps of the level, and the
 *       bookkeeping share of the iteration time.
 * </ul>
 *
 * One warm-up request (its own video) runs before the first level. Usage from the repository root:
 *
 * <pre>
 * ./mvnw -B -o -q -pl models -am test -Pslow -Dtest=SchedulerThroughputBenchTest -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 *
 * or the main with {@code [maxNewTokens 64] [torchThreads 1] [maxBatchTokens 512] [cpuWorkers 1]}.
 * With several workers, streams that the dispatcher moves off the video's worker make the other
 * worker prefill the video prefix itself (its cache is its own), inside the measured wall time.
 * Runs on the calling thread (plus the scheduler's worker thread).
 */
public final class SchedulerThroughputBench {
  private static final int BLOCK = 16;

  private SchedulerThroughputBench() {}

  /** One row of the table. */
  record Row(
      int streams,
      double primerSeconds,
      double wallSeconds,
      long generated,
      double tokensPerSecond,
      double decodeTokensPerSecond,
      long steps,
      double meanBatch,
      double meanBookkeepingMicros,
      double p99BookkeepingMicros,
      double meanModelMillis,
      double bookkeepingShare,
      double decodeStepMillis) {}

  public static void main(String[] args) throws Exception {
    int maxNew = args.length > 0 ? Integer.parseInt(args[0]) : 64;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    int maxBatchTokens = args.length > 2 ? Integer.parseInt(args[2]) : 512;
    int workers = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    System.out.println(
        table(
            run(new int[] {1, 8, 32}, maxNew, threads, maxBatchTokens, workers),
            maxNew,
            threads,
            maxBatchTokens,
            workers));
  }

  static String table(List<Row> rows, int maxNew, int threads, int maxBatchTokens, int workers) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "# SMALL preset, %d CPU worker(s), %d torch thread(s), maxBatchTokens %d,"
                + " %d new tokens per stream, greedy, no stop tokens%s%n",
            workers,
            threads,
            maxBatchTokens,
            maxNew,
            workers > 1 ? " (decode_tok/s and model_ms are per worker)" : ""));
    sb.append(
        String.format(
            Locale.ROOT,
            "%-8s %-9s %-8s %-9s %-8s %-12s %-6s %-9s %-9s %-9s %-9s %-8s%n",
            "streams",
            "primer_s",
            "wall_s",
            "tokens",
            "tok/s",
            "decode_tok/s",
            "steps",
            "avg_batch",
            "book_us",
            "book_p99",
            "model_ms",
            "book_%"));
    for (Row r : rows) {
      sb.append(
          String.format(
              Locale.ROOT,
              "%-8d %-9.2f %-8.2f %-9d %-8.1f %-12.1f %-6d %-9.1f %-9.1f %-9.1f %-9.2f %-8.3f%n",
              r.streams(),
              r.primerSeconds(),
              r.wallSeconds(),
              r.generated(),
              r.tokensPerSecond(),
              r.decodeTokensPerSecond(),
              r.steps(),
              r.meanBatch(),
              r.meanBookkeepingMicros(),
              r.p99BookkeepingMicros(),
              r.meanModelMillis(),
              100 * r.bookkeepingShare()));
    }
    Row one = rows.get(0);
    Row last = rows.get(rows.size() - 1);
    sb.append(
        String.format(
            Locale.ROOT,
            "# %d streams vs 1: %.1fx tok/s, %.1fx decode tok/s (target >= 8x)%n",
            last.streams(),
            last.tokensPerSecond() / one.tokensPerSecond(),
            last.decodeTokensPerSecond() / one.decodeTokensPerSecond()));
    return sb.toString();
  }

  /**
   * Writes the SMALL checkpoint to a temporary directory and measures every level in {@code
   * streams}.
   */
  static List<Row> run(int[] streams, int maxNew, int threads, int maxBatchTokens, int workers)
      throws Exception {
    Path dir = Files.createTempDirectory("llavast-small-");
    try {
      TinyCheckpoints.write(dir, TinyCheckpoints.Preset.SMALL, 3);
      try (LlavaSt model = LlavaSt.open(dir)) {
        return run(model, streams, maxNew, threads, maxBatchTokens, workers);
      }
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static List<Row> run(
      LlavaSt model, int[] streams, int maxNew, int threads, int maxBatchTokens, int workers)
      throws Exception {
    ConcurrentLinkedQueue<SchedulerListener.StepEvent> events = new ConcurrentLinkedQueue<>();
    List<Row> rows = new ArrayList<>();
    try (Scheduler s =
        scheduler(
            model,
            Arrays.stream(streams).max().orElse(1),
            maxNew,
            threads,
            maxBatchTokens,
            workers,
            events)) {
      SamplingParams sampling =
          SamplingParams.greedy(maxNew); // no stop tokens: every stream runs to maxNew
      runStreams(
          s, model, "warmup", 1, sampling, events); // JIT and allocator warm-up, not reported
      for (int n : streams) {
        rows.add(runStreams(s, model, "level" + n, n, sampling, events));
      }
    }
    return rows;
  }

  /**
   * A scheduler over {@code workers} CPU executors with a KV pool for one video prefix (twice, for
   * the previous level's until it is evicted) and {@code maxStreams} streams' questions and tokens.
   */
  static Scheduler scheduler(
      LlavaSt model,
      int maxStreams,
      int maxNew,
      int threads,
      int maxBatchTokens,
      int workers,
      ConcurrentLinkedQueue<SchedulerListener.StepEvent> events) {
    int promptLen = model.chatTemplate().render(ChatTemplate.Media.VIDEO, question(0)).length();
    int perStream = (promptLen % BLOCK + 64 + maxNew) / BLOCK + 2;
    int kvBlocks = 2 * (promptLen / BLOCK + 1) + (maxStreams + 1) * perStream;
    SchedulerBuilder builder = Scheduler.builder();
    for (int w = 0; w < workers; w++) {
      builder.addExecutor(model.newExecutor(Device.cpu(), false, threads));
    }
    return builder
        .blockSize(BLOCK)
        .kvBlocks(kvBlocks)
        .maxBatchTokens(maxBatchTokens)
        .maxRunningSequences(maxStreams)
        .maxQueuedRequests(2 * maxStreams)
        .idlePoll(Duration.ofMillis(1))
        .listener(
            new SchedulerListener() {
              @Override
              public void onStep(StepEvent e) {
                events.add(e);
              }
            })
        .build();
  }

  private static Row runStreams(
      Scheduler s,
      LlavaSt model,
      String videoKey,
      int n,
      SamplingParams sampling,
      ConcurrentLinkedQueue<SchedulerListener.StepEvent> events)
      throws InterruptedException {
    return runStreams(s, model, videoKey, n, i -> sampling, events);
  }

  /**
   * One level: a primer on a new video, then {@code n} streams at once, stream {@code i} sampled
   * with {@code samplingOf.apply(i)} (every one must run to its token limit).
   */
  static Row runStreams(
      Scheduler s,
      LlavaSt model,
      String videoKey,
      int n,
      IntFunction<SamplingParams> samplingOf,
      ConcurrentLinkedQueue<SchedulerListener.StepEvent> events)
      throws InterruptedException {
    SamplingParams sampling = samplingOf.apply(0);
    LlavaStModel.Features video = video(model, videoKey);
    ChatTemplate template = model.chatTemplate();
    long p0 = System.nanoTime();
    await(
        List.of(
            submit(
                s,
                videoKey + "-primer",
                template
                    .render(ChatTemplate.Media.VIDEO, "Describe the video.")
                    .toPromptInput(video),
                videoKey,
                sampling)));
    double primer = (System.nanoTime() - p0) / 1e9;
    events.clear();
    List<PromptInput> prompts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      prompts.add(template.render(ChatTemplate.Media.VIDEO, question(i)).toPromptInput(video));
    }
    long t0 = System.nanoTime();
    List<Done> done = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      done.add(submit(s, videoKey + "-" + i, prompts.get(i), videoKey, samplingOf.apply(i)));
    }
    await(done);
    double wall = (System.nanoTime() - t0) / 1e9;
    long generated = 0;
    for (Done d : done) {
      if (d.error != null) {
        throw new IllegalStateException("stream failed: " + d.error.getMessage(), d.error);
      }
      if (d.reason != FinishReason.LENGTH || d.usage.generatedTokens() != sampling.maxNewTokens()) {
        throw new IllegalStateException(
            "a stream ended with "
                + d.reason
                + " after "
                + d.usage.generatedTokens()
                + " tokens; expected LENGTH after "
                + sampling.maxNewTokens());
      }
      generated += d.usage.generatedTokens();
    }
    List<SchedulerListener.StepEvent> ev = new ArrayList<>(events);
    long decodeTokens = 0;
    long decodeNanos = 0;
    long decodeSteps = 0;
    long decodeModelNanos = 0;
    long bookNanos = 0;
    long modelNanos = 0;
    long batch = 0;
    long[] book = new long[ev.size()];
    for (int i = 0; i < ev.size(); i++) {
      SchedulerListener.StepEvent e = ev.get(i);
      book[i] = e.bookkeepingNanos();
      bookNanos += e.bookkeepingNanos();
      modelNanos += e.stepNanos();
      batch += e.batchSize();
      if (e.decodeSequences() == e.batchSize()) {
        decodeTokens += e.decodeSequences();
        decodeNanos += e.stepNanos() + e.bookkeepingNanos();
        decodeSteps++;
        decodeModelNanos += e.stepNanos();
      }
    }
    Arrays.sort(book);
    int steps = ev.size();
    return new Row(
        n,
        primer,
        wall,
        generated,
        generated / wall,
        decodeTokens / (decodeNanos / 1e9),
        steps,
        (double) batch / steps,
        bookNanos / 1e3 / steps,
        book[Math.min(steps - 1, steps * 99 / 100)] / 1e3,
        modelNanos / 1e6 / steps,
        (double) bookNanos / (bookNanos + modelNanos),
        decodeModelNanos / 1e6 / Math.max(1, decodeSteps));
  }

  private static String question(int i) {
    String[] subjects = {
      "the person",
      "the dog",
      "the car",
      "the ball",
      "the door",
      "the light",
      "the crowd",
      "the bird"
    };
    String[] verbs = {"appear", "move", "stop", "turn left", "leave", "change", "fall"};
    return "When does "
        + subjects[i % subjects.length]
        + " "
        + verbs[(i / subjects.length) % verbs.length]
        + " for the "
        + (i + 1)
        + "th time?";
  }

  /** Deterministic random {@code [1620, hidden]} slow-video features for {@code key}. */
  static LlavaStModel.Features video(LlavaSt model, String key) {
    int rows = model.chatTemplate().videoSlowTokens();
    int hidden = model.config().hiddenSize();
    float[] data = new float[rows * hidden];
    Random r = new Random(key.hashCode());
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) (0.5 * r.nextGaussian());
    }
    return new LlavaStModel.Features(key, true, rows, hidden, data);
  }

  private static Done submit(
      Scheduler s, String id, PromptInput prompt, String mediaKey, SamplingParams sampling) {
    Done d = new Done();
    s.submit(GenerationRequest.of(id, prompt, mediaKey, sampling, 0, null), d);
    return d;
  }

  private static void await(List<Done> done) throws InterruptedException {
    for (Done d : done) {
      if (!d.latch.await(30, TimeUnit.MINUTES)) {
        throw new IllegalStateException("a stream did not finish within 30 minutes");
      }
    }
  }

  /** Counts tokens and records the end. Never blocks. */
  private static final class Done implements TokenSink {
    final CountDownLatch latch = new CountDownLatch(1);
    final AtomicLong tokens = new AtomicLong();
    volatile FinishReason reason;
    volatile Usage usage;
    volatile SchedulerException error;

    @Override
    public boolean onToken(int tokenId, float logprob) {
      tokens.incrementAndGet();
      return true;
    }

    @Override
    public void onFinish(FinishReason r, Usage u) {
      reason = r;
      usage = u;
      latch.countDown();
    }

    @Override
    public void onError(SchedulerException e, Usage u) {
      error = e;
      usage = u;
      latch.countDown();
    }
  }
}

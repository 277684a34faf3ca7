package dev.llavast.server;

import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.Timings;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.server.media.MediaTestFiles;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Issue 15's multi-query benchmark (not a test): {@code V} videos x {@code Q} distinct questions,
 * {@code C} streams at once, from a cold start, through a real loopback gRPC server on a
 * random-weight checkpoint; then the same workload in the <b>reference flow</b> of the same server
 * ({@code --feature-cache-bytes 0 --no-prefix-caching}, one request at a time: every question
 * decodes the video again, encodes it again and prefills its whole prompt), so that the throughput
 * ratio comes from one run on one machine. Last, the <b>overlap</b> check: inter-token latency of
 * running streams while a new video is decoded and encoded, against their latency just before.
 *
 * <p>Prints wall time, seconds per question, TTFT of the first question on each video and of the
 * repeats (during the run, and on an idle server afterwards), inter-token latency, and the server's
 * own per-stage timings (decode media, encode, prefill, decode) summed over the run.
 *
 * <p>Run: {@code ./mvnw -B -q -o -pl server -am test-compile}, then {@code java -cp <server test
 * class path> dev.llavast.server.MultiQueryBenchmark [tiny|small] [videos] [questions]
 * [concurrency] [maxNewTokens] [skipReference]} (defaults: small 2 8 8 32 false), or the slow
 * {@code MultiQueryBenchmarkTest} ({@code -Pslow}). Main thread only.
 */
public final class MultiQueryBenchmark {
  private MultiQueryBenchmark() {}

  /** Video shapes: distinct content per video (the square's path depends on the frame size). */
  private static final int[][] SHAPES = {{320, 240}, {352, 288}, {384, 216}, {256, 256}};

  private static final int VIDEO_FRAMES = 150;
  private static final double VIDEO_FPS = 25.0;

  /** One streamed answer as the client saw it. */
  record Answer(
      int video,
      int question,
      long sentNanos,
      long firstNanos,
      long[] tokenNanos,
      int tokens,
      boolean cacheHit,
      Timings timings) {
    double ttftSeconds() {
      return (firstNanos - sentNanos) / 1e9;
    }
  }

  /** What one mode measured. */
  record ModeResult(
      String mode,
      double wallSeconds,
      double cpuSeconds,
      SchedulerCounts schedulerCounts,
      java.util.Map<String, Double> threadCpuSeconds,
      List<Answer> answers) {
    int tokens() {
      return answers.stream().mapToInt(Answer::tokens).sum();
    }

    double questionsPerSecond() {
      return answers.size() / wallSeconds;
    }
  }

  /** The overlap check. */
  /**
   * Inter-token latency of running streams: normally; while the new video is decoded and encoded
   * (from its request until the server reports its encode done: the window); and until the
   * new video's first token (its prompt's prefill included).
   */
  record Overlap(
      double normalItlMs,
      double mediaItlMs,
      double mediaSeconds,
      double coldItlMs,
      double coldMaxGapMs,
      double coldTtftSeconds,
      int tokensDuringCold) {
    double ratio() {
      return mediaItlMs / normalItlMs;
    }

    double ratioWithPrefill() {
      return coldItlMs / normalItlMs;
    }
  }

  /** Everything one run measured. */
  record Result(ModeResult fast, ModeResult reference, Overlap overlap) {
    double throughputRatio() {
      return reference == null
          ? Double.NaN
          : fast.questionsPerSecond() / reference.questionsPerSecond();
    }
  }

  public static void main(String[] args) throws Exception {
    TinyCheckpoints.Preset preset =
        TinyCheckpoints.Preset.valueOf(
            (args.length > 0 ? args[0] : "small").toUpperCase(Locale.ROOT));
    int videos = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    int questions = args.length > 2 ? Integer.parseInt(args[2]) : 8;
    int concurrency = args.length > 3 ? Integer.parseInt(args[3]) : 8;
    int maxNew = args.length > 4 ? Integer.parseInt(args[4]) : 32;
    boolean skipReference = args.length > 5 && Boolean.parseBoolean(args[5]);
    Path dir = Files.createTempDirectory("llavast-multiquery");
    try {
      run(dir, preset, videos, questions, concurrency, maxNew, !skipReference);
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    System.exit(0);
  }

  static Result run(
      Path dir,
      TinyCheckpoints.Preset preset,
      int videos,
      int questions,
      int concurrency,
      int maxNew,
      boolean withReference)
      throws Exception {
    if (videos < 1 || videos > SHAPES.length - 2) {
      throw new IllegalArgumentException("videos must be in [1, " + (SHAPES.length - 2) + "]");
    }
    Path model = dir.resolve(preset.name().toLowerCase(Locale.ROOT));
    TinyCheckpoints.write(model, preset, 17);
    // videos 0..V-1 for the workload, V (never asked before) for the overlap check, V+1 (the last
    // shape) to warm each server's code paths (JIT, kernels) before anything is timed, and V more
    // (the workload's shapes, one frame longer: other content) for the same workload untimed first
    List<byte[]> clips = new ArrayList<>();
    for (int v = 0; v <= 2 * videos + 1; v++) {
      int shape = v <= videos ? v : v == videos + 1 ? SHAPES.length - 1 : v - videos - 2;
      clips.add(
          Files.readAllBytes(
              MediaTestFiles.movingSquare(
                  dir.resolve("clip" + v + ".mp4"),
                  SHAPES[shape][0],
                  SHAPES[shape][1],
                  v > videos + 1 ? VIDEO_FRAMES + 1 : VIDEO_FRAMES,
                  VIDEO_FPS)));
    }
    System.out.printf(
        Locale.ROOT,
        "multi-query benchmark: preset %s, %d videos x %d questions, concurrency %d,"
            + " max_new_tokens %d, clips of %d frames at %.0f fps, %d cores%n",
        preset,
        videos,
        questions,
        concurrency,
        maxNew,
        VIDEO_FRAMES,
        VIDEO_FPS,
        Runtime.getRuntime().availableProcessors());

    ModeResult fast;
    Overlap overlap;
    try (E2eClient c = E2eClient.start(config(model, concurrency, true), Duration.ofMinutes(5))) {
      List<String> ids = upload(c, clips);
      warmUp(c, ids.get(videos + 1), concurrency, maxNew);
      // the JIT keeps compiling for seconds after the first requests (C2 took as much CPU as the
      // worker in a 4 s tiny run): the same workload on other videos first, so steady state is
      // what is timed
      workload(
          c, "warm-up", ids.subList(videos + 2, 2 * videos + 2), questions, concurrency, maxNew);
      fast = workload(c, "ours", ids.subList(0, videos), questions, concurrency, maxNew);
      report(fast);
      List<Answer> idleRepeats = new ArrayList<>();
      for (int v = 0; v < videos; v++) {
        idleRepeats.add(stream(c, ids.get(v), v, questions, maxNew, null).get(10, MINUTES));
      }
      System.out.printf(
          Locale.ROOT,
          "  TTFT of a repeated question on an idle server (cached features and prefix): %s%n",
          fmtSeconds(idleRepeats.stream().mapToDouble(Answer::ttftSeconds).toArray()));
      overlap = overlap(c, ids.get(0), ids.get(videos), concurrency);
    }
    ModeResult reference = null;
    if (withReference) {
      try (E2eClient c = E2eClient.start(config(model, 1, false), Duration.ofMinutes(5))) {
        List<String> ids = upload(c, clips);
        warmUp(c, ids.get(videos + 1), 1, maxNew);
        reference = workload(c, "reference flow", ids.subList(0, videos), questions, 1, maxNew);
        report(reference);
        long hits = reference.answers().stream().filter(Answer::cacheHit).count();
        if (hits > 0) {
          throw new IllegalStateException(
              "reference flow: " + hits + " answers reused cached features; the mode is broken");
        }
      }
    }
    Result r = new Result(fast, reference, overlap);
    if (reference != null) {
      System.out.printf(
          Locale.ROOT,
          "THROUGHPUT: ours %.3f questions/s (%.1f tok/s), reference flow %.3f questions/s"
              + " (%.1f tok/s): ratio %.1fx (target >= 20x)%n",
          fast.questionsPerSecond(),
          fast.tokens() / fast.wallSeconds(),
          reference.questionsPerSecond(),
          reference.tokens() / reference.wallSeconds(),
          r.throughputRatio());
    }
    System.out.printf(
        Locale.ROOT,
        "OVERLAP: inter-token latency of running streams %.1f ms normally, %.1f ms while a new"
            + " video decodes and encodes (%.2f s): ratio %.2f (target <= 2); %.1f ms until its"
            + " first token, its prefill included (%d tokens in %.2f s, longest gap %.0f ms):"
            + " ratio %.2f%n",
        overlap.normalItlMs(),
        overlap.mediaItlMs(),
        overlap.mediaSeconds(),
        overlap.ratio(),
        overlap.coldItlMs(),
        overlap.tokensDuringCold(),
        overlap.coldTtftSeconds(),
        overlap.coldMaxGapMs(),
        overlap.ratioWithPrefill());
    return r;
  }

  private static final TimeUnit MINUTES = TimeUnit.MINUTES;

  /**
   * Untimed: a cold question on the warm-up clip, then {@code concurrency} more on it at once (at
   * least two), so that what the timed workload runs (a cold load, concurrent streams on a cached
   * prefix) is compiled by the JIT before it is measured, in both modes alike.
   */
  static void warmUp(E2eClient c, String mediaId, int concurrency, int maxNew) throws Exception {
    stream(c, mediaId, 9, 0, maxNew, null).get(10, MINUTES);
    workload(c, "warm-up", List.of(mediaId), Math.max(2, concurrency), concurrency, maxNew);
  }

  /**
   * The server's configuration: the defaults, except in the reference flow; {@code
   * -Dllavast.bench.mediaNice=N} sets {@code --media-nice} (to compare priorities).
   */
  static ServerConfig config(Path model, int concurrency, boolean caches) {
    ServerConfig d = ServerConfig.defaults();
    ServerConfig c =
        E2eClient.config(
                model, "cpu", d.maxQueuedRequests(), 64L << 20, 0, Math.max(concurrency, 8))
            .toBuilder()
            .mediaNice(Integer.getInteger("llavast.bench.mediaNice", d.mediaNice()))
            .build();
    return caches ? c : c.toBuilder().featureCacheBytes(0).prefixCaching(false).build();
  }

  private static List<String> upload(E2eClient c, List<byte[]> clips) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int v = 0; v < clips.size(); v++) {
      ids.add(c.upload(MediaKind.MEDIA_KIND_VIDEO, clips.get(v), "clip" + v + ".mp4").getMediaId());
    }
    return ids;
  }

  /**
   * Asks every question about every video, at most {@code concurrency} at once, in the order users
   * would arrive: question 0 on every video, then question 1, and so on.
   */
  static ModeResult workload(
      E2eClient c, String mode, List<String> ids, int questions, int concurrency, int maxNew)
      throws Exception {
    Semaphore slots = new Semaphore(concurrency);
    List<CompletableFuture<Answer>> all = new ArrayList<>();
    SchedulerCounts counts0 = SchedulerCounts.of(c);
    java.util.Map<Long, Long> threads0 = threadCpuNanos();
    long cpu0 = processCpuNanos();
    long start = System.nanoTime();
    for (int q = 0; q < questions; q++) {
      for (int v = 0; v < ids.size(); v++) {
        slots.acquire();
        all.add(stream(c, ids.get(v), v, q, maxNew, null).whenComplete((a, e) -> slots.release()));
      }
    }
    List<Answer> answers = new ArrayList<>();
    for (CompletableFuture<Answer> f : all) {
      answers.add(f.get(30, MINUTES));
    }
    double wall = (System.nanoTime() - start) / 1e9;
    double cpu = (processCpuNanos() - cpu0) / 1e9;
    SchedulerCounts counts = SchedulerCounts.of(c).minus(counts0);
    return new ModeResult(mode, wall, cpu, counts, cpuByThreadGroup(threads0), answers);
  }

  /** CPU time of every live Java thread, by id, ns. */
  static java.util.Map<Long, Long> threadCpuNanos() {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    java.util.Map<Long, Long> m = new java.util.HashMap<>();
    for (long id : mx.getAllThreadIds()) {
      long t = mx.getThreadCpuTime(id);
      if (t >= 0) {
        m.put(id, t);
      }
    }
    return m;
  }

  /**
   * CPU seconds since {@code before} by thread group (the name without its trailing number); what
   * the JVM's own threads (GC, JIT) used is the process's total minus these.
   */
  static java.util.Map<String, Double> cpuByThreadGroup(java.util.Map<Long, Long> before) {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    java.util.Map<String, Double> groups = new java.util.TreeMap<>();
    for (var e : threadCpuNanos().entrySet()) {
      var info = mx.getThreadInfo(e.getKey());
      if (info == null) {
        continue;
      }
      String group = info.getThreadName().replaceAll("-?\\d+$", "");
      double s = (e.getValue() - before.getOrDefault(e.getKey(), 0L)) / 1e9;
      groups.merge(group, s, Double::sum);
    }
    return groups;
  }

  /**
   * Prompt tokens looked up in the prefix cache, tokens found there, and steps, over all workers.
   */
  record SchedulerCounts(long promptTokens, long reusedTokens, long steps) {
    static SchedulerCounts of(E2eClient c) {
      long prompt = 0;
      long reused = 0;
      long steps = 0;
      for (var w : c.serving.engine().stats().workers()) {
        prompt += w.prefixQueryTokensTotal();
        reused += w.prefixHitTokensTotal();
        steps += w.stepsTotal();
      }
      return new SchedulerCounts(prompt, reused, steps);
    }

    SchedulerCounts minus(SchedulerCounts o) {
      return new SchedulerCounts(
          promptTokens - o.promptTokens, reusedTokens - o.reusedTokens, steps - o.steps);
    }
  }

  /** CPU time of this process (server and client share it; the client's part is small), ns. */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  static void report(ModeResult m) {
    List<Answer> a = m.answers();
    List<Double> first = new ArrayList<>();
    List<Double> repeat = new ArrayList<>();
    boolean[] seen = new boolean[SHAPES.length];
    for (Answer x : a) {
      if (!seen[x.video()]) {
        seen[x.video()] = true;
        first.add(x.ttftSeconds());
      } else {
        repeat.add(x.ttftSeconds());
      }
    }
    List<Double> itl = new ArrayList<>();
    for (Answer x : a) {
      for (int i = 1; i < x.tokenNanos().length; i++) {
        itl.add((x.tokenNanos()[i] - x.tokenNanos()[i - 1]) / 1e6);
      }
    }
    double decode = 0;
    double encode = 0;
    double prefill = 0;
    double gen = 0;
    for (Answer x : a) {
      decode += x.timings().getMediaDecodeSeconds();
      encode += x.timings().getEncodeSeconds();
      prefill += x.timings().getPrefillSeconds();
      gen += x.timings().getDecodeSeconds();
    }
    System.out.printf(
        Locale.ROOT,
        "[%s] %d questions, %d tokens in %.2f s wall: %.3f s/question; process CPU %.2f s"
            + " (%.0f%% of %d cores)%n",
        m.mode(),
        a.size(),
        m.tokens(),
        m.wallSeconds(),
        m.wallSeconds() / a.size(),
        m.cpuSeconds(),
        100 * m.cpuSeconds() / m.wallSeconds() / Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().availableProcessors());
    System.out.printf(
        Locale.ROOT,
        "  prompt tokens %d, of them %d reused from the prefix cache; %d scheduler steps%n",
        m.schedulerCounts().promptTokens(),
        m.schedulerCounts().reusedTokens(),
        m.schedulerCounts().steps());
    StringBuilder cpuText = new StringBuilder();
    double javaThreads = 0;
    for (var e :
        m.threadCpuSeconds().entrySet().stream()
            .sorted(java.util.Map.Entry.comparingByValue(Comparator.reverseOrder()))
            .limit(5)
            .toList()) {
      cpuText.append(String.format(Locale.ROOT, "%s %.2f, ", e.getKey(), e.getValue()));
    }
    for (double v : m.threadCpuSeconds().values()) {
      javaThreads += v;
    }
    System.out.printf(
        Locale.ROOT,
        "  CPU seconds by thread: %sJVM and native threads %.2f%n",
        cpuText,
        m.cpuSeconds() - javaThreads);
    boolean[] shown = new boolean[SHAPES.length];
    for (Answer x : a) {
      if (!shown[x.video()]) {
        shown[x.video()] = true;
        Timings t = x.timings();
        System.out.printf(
            Locale.ROOT,
            "  first question on video %d: TTFT %.3f s = queue %.3f + media decode %.3f + encode"
                + " %.3f + prefill %.3f (server side)%n",
            x.video(),
            x.ttftSeconds(),
            t.getQueueSeconds(),
            t.getMediaDecodeSeconds(),
            t.getEncodeSeconds(),
            t.getPrefillSeconds());
      }
    }
    System.out.printf(
        Locale.ROOT,
        "  TTFT first question per video %s; repeats %s%n",
        fmtSeconds(first.stream().mapToDouble(Double::doubleValue).toArray()),
        fmtSeconds(repeat.stream().mapToDouble(Double::doubleValue).toArray()));
    double[] itlMs = itl.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(itlMs);
    System.out.printf(
        Locale.ROOT,
        "  inter-token latency p50 %.1f ms, p90 %.1f ms, max %.1f ms%n",
        pct(itlMs, 0.5),
        pct(itlMs, 0.9),
        itlMs.length == 0 ? Double.NaN : itlMs[itlMs.length - 1]);
    System.out.printf(
        Locale.ROOT,
        "  server stage seconds summed over requests: media decode %.2f, encode %.2f,"
            + " prefill %.2f, token decode %.2f%n",
        decode,
        encode,
        prefill,
        gen);
  }

  /**
   * Streams of long answers on a cached video run; after a calm window, one question on a video
   * never seen before arrives. Compares the running streams' mean inter-token latency over the calm
   * window with that over the new video's decode + encode + prefill (its TTFT).
   */
  static Overlap overlap(E2eClient c, String warmId, String coldId, int streams) throws Exception {
    int n = Math.min(4, Math.max(1, streams));
    List<ClientCallStreamObserver<GenerateRequest>> calls = new CopyOnWriteArrayList<>();
    List<CompletableFuture<Answer>> running = new ArrayList<>();
    List<List<Long>> times = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      List<Long> t = new CopyOnWriteArrayList<>();
      times.add(t);
      running.add(stream(c, warmId, 0, 100 + i, 2048, new Hooks(calls, t)));
    }
    // until every stream is decoding
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (times.stream().anyMatch(t -> t.size() < 4) && System.nanoTime() < until) {
      Thread.sleep(5);
    }
    long calm0 = System.nanoTime();
    Thread.sleep(1500);
    long calm1 = System.nanoTime();
    Answer cold = stream(c, coldId, 9, 0, 1, null).get(10, MINUTES);
    long cold0 = cold.sentNanos();
    long cold1 = cold.firstNanos();
    Timings ct = cold.timings();
    long media1 =
        Math.min(
            cold1,
            cold0
                + (long)
                    (1e9
                        * (ct.getQueueSeconds()
                            + ct.getMediaDecodeSeconds()
                            + ct.getEncodeSeconds())));
    for (ClientCallStreamObserver<GenerateRequest> call : calls) {
      call.cancel("benchmark done", null);
    }
    for (CompletableFuture<Answer> f : running) {
      try {
        f.get(1, MINUTES);
      } catch (java.util.concurrent.ExecutionException expected) {
        // cancelled by us
      }
    }
    // the server must have ended them too before the next mode runs on the same cores
    long idleBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < idleBy) {
      var st = c.serving.engine().stats();
      if (st.running() == 0 && st.waiting() == 0) {
        break;
      }
      Thread.sleep(10);
    }
    var st = c.serving.engine().stats();
    if (st.running() != 0 || st.waiting() != 0) {
      throw new IllegalStateException(
          "the cancelled streams still run on the server 60 s later: " + st);
    }
    int calmTokens = 0;
    int mediaTokens = 0;
    int coldTokens = 0;
    long maxGap = 0;
    for (List<Long> t : times) {
      long prev = -1;
      for (long x : t) {
        if (x >= calm0 && x < calm1) {
          calmTokens++;
        }
        if (x >= cold0 && x < cold1) {
          coldTokens++;
        }
        if (x >= cold0 && x < media1) {
          mediaTokens++;
        }
        if (prev >= 0 && x > cold0 && prev < cold1) {
          maxGap = Math.max(maxGap, Math.min(x, cold1) - Math.max(prev, cold0));
        }
        prev = x;
      }
    }
    // per stream: window length / tokens that stream got in it
    double calmItl = (calm1 - calm0) / 1e6 / (calmTokens / (double) n);
    double coldItl = (cold1 - cold0) / 1e6 / (Math.max(coldTokens, 1) / (double) n);
    double mediaItl = (media1 - cold0) / 1e6 / (Math.max(mediaTokens, 1) / (double) n);
    return new Overlap(
        calmItl,
        mediaItl,
        (media1 - cold0) / 1e9,
        coldItl,
        maxGap / 1e6,
        (cold1 - cold0) / 1e9,
        coldTokens);
  }

  /** For the overlap check: where the call is, and every token's arrival time. */
  record Hooks(List<ClientCallStreamObserver<GenerateRequest>> calls, List<Long> tokenTimes) {}

  static CompletableFuture<Answer> stream(
      E2eClient c, String mediaId, int video, int question, int maxNew, Hooks hooks) {
    GenerateRequest req =
        GenerateRequest.newBuilder()
            .setMedia(MediaRef.newBuilder().setMediaId(mediaId))
            .setPrompt(
                Prompt.newBuilder()
                    .setText(
                        "Question "
                            + question
                            + ": what does the square do"
                            + " between second "
                            + question
                            + " and the end?"))
            .setSampling(SamplingParams.newBuilder().setTemperature(0f).setMaxNewTokens(maxNew))
            .setOutput(OutputOptions.newBuilder().setReturnTokenIds(true))
            .build();
    CompletableFuture<Answer> done = new CompletableFuture<>();
    long start = System.nanoTime();
    GenerationServiceGrpc.newStub(c.channel)
        .withDeadlineAfter(30, MINUTES)
        .generateStream(
            req,
            new ClientResponseObserver<GenerateRequest, GenerateStreamResponse>() {
              final List<Long> times = hooks == null ? new ArrayList<>() : hooks.tokenTimes();

              @Override
              public void beforeStart(ClientCallStreamObserver<GenerateRequest> call) {
                if (hooks != null) {
                  hooks.calls().add(call);
                }
              }

              @Override
              public void onNext(GenerateStreamResponse r) {
                long now = System.nanoTime();
                if (r.hasDelta()) {
                  for (int i = 0; i < Math.max(1, r.getDelta().getTokenIdsCount()); i++) {
                    times.add(now);
                  }
                } else if (r.hasFinal()) {
                  var f = r.getFinal();
                  long first = times.isEmpty() ? now : times.get(0);
                  done.complete(
                      new Answer(
                          video,
                          question,
                          start,
                          first,
                          times.stream().mapToLong(Long::longValue).toArray(),
                          f.getUsage().getGeneratedTokens(),
                          f.getUsage().getFeatureCacheHit(),
                          f.getTimings()));
                }
              }

              @Override
              public void onError(Throwable t) {
                done.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                done.completeExceptionally(new IllegalStateException("stream ended without final"));
              }
            });
    return done;
  }

  private static double pct(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
  }

  private static String fmtSeconds(double[] xs) {
    if (xs.length == 0) {
      return "-";
    }
    double[] s = xs.clone();
    Arrays.sort(s);
    double mean = Arrays.stream(s).average().orElse(Double.NaN);
    return String.format(
        Locale.ROOT,
        "mean %.3f s (min %.3f, median %.3f, max %.3f, n=%d)",
        mean,
        s[0],
        pct(s, 0.5),
        s[s.length - 1],
        s.length);
  }
}

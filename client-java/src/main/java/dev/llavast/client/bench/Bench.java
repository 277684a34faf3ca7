package dev.llavast.client.bench;

import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.client.Answer;
import dev.llavast.client.Cancellable;
import dev.llavast.client.Delta;
import dev.llavast.client.LlavaStClient;
import dev.llavast.client.LlavaStException;
import dev.llavast.client.StreamListener;
import dev.llavast.client.UploadOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The load generator: uploads the workload's videos once, then plays V * Q streaming requests at
 * each concurrency level, closed loop (C clients back to back) or open loop (Poisson arrivals at a
 * rate, at most C in flight; latency counts from the scheduled arrival, so queueing in the client
 * is not hidden). Each level stops issuing at its count or its time bound, whichever comes first;
 * requests still running a grace period later are cancelled and counted as errors.
 *
 * <p>Thread-safety: {@link #run} from one thread; it starts its own dispatcher.
 */
public final class Bench {
  private final LlavaStClient client;
  private final BenchConfig config;
  private final ProgressListener progress;

  public Bench(LlavaStClient client, BenchConfig config, ProgressListener progress) {
    this.client = client;
    this.config = config;
    this.progress = progress;
  }

  /** Uploads the media (phase "upload") and runs every level. */
  public BenchReport run() throws InterruptedException {
    List<String> media = uploadAll();
    warmUp();
    List<LevelResult> levels = new ArrayList<>();
    for (int c : config.concurrency()) {
      levels.add(runLevel(media, c));
    }
    return new BenchReport(config, media, levels);
  }

  /**
   * Sends the warm-up requests one at a time about an extra generated video; results are dropped.
   */
  void warmUp() {
    if (config.warmupRequests() == 0) {
      return;
    }
    String id =
        client
            .uploadFrames(
                GeneratedVideos.frames(-1 - config.seed(), 8),
                GeneratedVideos.FPS,
                "bench-warmup",
                null)
            .mediaId();
    progress.phase("warmup", config.warmupRequests());
    for (int i = 0; i < config.warmupRequests(); i++) {
      try (var s = client.generateStream(request(List.of(id), 0, 0))) {
        s.answer();
      } catch (LlavaStException e) {
        // a failed warm-up request is not a result; the levels will show errors if the server fails
      }
      progress.advance(i + 1);
    }
    progress.phaseDone();
  }

  List<String> uploadAll() {
    List<String> ids = new ArrayList<>();
    if (!config.videoFiles().isEmpty()) {
      long total = 0;
      for (Path p : config.videoFiles()) {
        total += p.toFile().length();
      }
      progress.phase("upload", total);
      long[] base = {0};
      for (Path p : config.videoFiles()) {
        long b = base[0];
        ids.add(
            client
                .upload(p, UploadOptions.defaults().withProgress((s, t) -> progress.advance(b + s)))
                .mediaId());
        base[0] += p.toFile().length();
      }
    } else {
      List<List<byte[]>> videos = new ArrayList<>();
      long total = 0;
      for (int v = 0; v < config.generatedVideos(); v++) {
        List<byte[]> frames = GeneratedVideos.frames(config.seed() * 1_000_003L + v, 8);
        videos.add(frames);
        total += frames.stream().mapToLong(f -> f.length).sum();
      }
      progress.phase("upload", total);
      long base = 0;
      for (int v = 0; v < videos.size(); v++) {
        long b = base;
        ids.add(
            client
                .uploadFrames(
                    videos.get(v),
                    GeneratedVideos.FPS,
                    "bench-" + v,
                    (s, t) -> progress.advance(b + s))
                .mediaId());
        base += videos.get(v).stream().mapToLong(f -> f.length).sum();
      }
    }
    progress.phaseDone();
    return ids;
  }

  /**
   * Request {@code i} asks question {@code i % Q} about video {@code i / Q} (video-major order).
   */
  GenerateRequest request(List<String> media, int i, int level) {
    int q = config.questionsPerVideo();
    String question = config.questions().get(i % q % config.questions().size());
    return LlavaStClient.question(media.get(i / q), question)
        .setRequestId("bench-c" + level + "-" + i + "-" + System.nanoTime())
        .setSampling(SamplingParams.newBuilder().setMaxNewTokens(config.maxNewTokens()))
        .setOutput(OutputOptions.newBuilder().setReturnTokenIds(true))
        .build();
  }

  LevelResult runLevel(List<String> media, int concurrency) throws InterruptedException {
    int total = config.requestsPerLevel();
    long bound = config.maxDuration().toNanos();
    progress.phase("c=" + concurrency, total);
    List<RequestSample> samples = Collections.synchronizedList(new ArrayList<>());
    ConcurrentHashMap<Integer, Cancellable> inFlight = new ConcurrentHashMap<>();
    Semaphore slots = new Semaphore(concurrency);
    AtomicLong done = new AtomicLong();
    Random arrivals = new Random(config.seed() + concurrency);
    long start = System.nanoTime();
    long stopIssuing = start + bound;
    int issued = 0;
    long nextArrival = start;
    while (issued < total && System.nanoTime() < stopIssuing) {
      if (config.arrivalRate() > 0) {
        long wait = nextArrival - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        if (System.nanoTime() >= stopIssuing) {
          break;
        }
      }
      if (!slots.tryAcquire(Math.max(0, stopIssuing - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        break;
      }
      // open loop: latency counts from the arrival, including any wait for a free slot;
      // closed loop: a client sends when its previous request ended, so from now
      long scheduled = config.arrivalRate() > 0 ? nextArrival : System.nanoTime();
      int i = issued++;
      inFlight.put(
          i,
          issue(
              request(media, i, concurrency),
              scheduled,
              sample -> {
                samples.add(sample);
                inFlight.remove(i);
                slots.release();
                progress.advance(done.incrementAndGet());
              }));
      if (config.arrivalRate() > 0) {
        nextArrival += (long) (-Math.log(1.0 - arrivals.nextDouble()) / config.arrivalRate() * 1e9);
      }
    }
    // wait for what is in flight, at most one more time bound, then cancel the rest
    long graceEnd = System.nanoTime() + bound;
    while (samples.size() < issued && System.nanoTime() < graceEnd) {
      Thread.sleep(5);
    }
    for (Cancellable c : new ArrayList<>(inFlight.values())) {
      c.cancel();
    }
    long waitCancel = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (samples.size() < issued && System.nanoTime() < waitCancel) {
      Thread.sleep(5);
    }
    long end = System.nanoTime();
    progress.phaseDone();
    List<RequestSample> copy;
    synchronized (samples) {
      copy = new ArrayList<>(samples);
    }
    return LevelResult.of(concurrency, config.arrivalRate(), copy, (end - start) / 1e9);
  }

  private Cancellable issue(
      GenerateRequest req, long scheduledNanos, java.util.function.Consumer<RequestSample> sink) {
    CountDownLatch once = new CountDownLatch(1);
    return client.generateStream(
        req,
        new StreamListener() {
          long first = -1;
          long last;
          final List<Long> gaps = new ArrayList<>();

          @Override
          public void onDelta(Delta d) {
            long now = System.nanoTime();
            if (d.text().isEmpty() && d.tokenIds().isEmpty()) {
              return;
            }
            if (first < 0) {
              first = now;
            } else {
              long per = (now - last) / Math.max(1, d.tokenIds().size());
              for (int k = 0; k < Math.max(1, d.tokenIds().size()); k++) {
                gaps.add(per);
              }
            }
            last = now;
          }

          @Override
          public void onAnswer(Answer a) {
            long now = System.nanoTime();
            long[] g = gaps.stream().mapToLong(Long::longValue).toArray();
            finish(
                new RequestSample(
                    "",
                    first < 0 ? -1 : first - scheduledNanos,
                    now - scheduledNanos,
                    g,
                    a.usage().getGeneratedTokens(),
                    a.usage().getPromptTokens(),
                    a.usage().getCachedTokens(),
                    a.usage().getFeatureCacheHit()));
          }

          @Override
          public void onError(LlavaStException e) {
            String code = e.code().name() + (e.reasonName().isEmpty() ? "" : "/" + e.reasonName());
            finish(
                new RequestSample(
                    code, -1, System.nanoTime() - scheduledNanos, new long[0], 0, 0, 0, false));
          }

          private void finish(RequestSample s) {
            if (once.getCount() == 1) {
              once.countDown();
              sink.accept(s);
            }
          }
        });
  }
}

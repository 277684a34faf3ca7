package dev.llavast.client.eval;

import dev.llavast.api.v1.ClipRange;
import dev.llavast.api.v1.Constraints;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.client.Answer;
import dev.llavast.client.LlavaStClient;
import dev.llavast.client.LlavaStException;
import dev.llavast.client.bench.ProgressListener;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Runs a benchmark through the gRPC API like a load generator: each media file is uploaded once
 * (skipped when the server already has its sha256), questions go out on {@code concurrency}
 * parallel calls, every answer is appended to the predictions file (JSONL) as it arrives, and a run
 * that was interrupted resumes from that file without asking again.
 *
 * <p>Thread-safe for one run at a time; the calls run on its own threads.
 */
public final class EvalRunner {
  /**
   * How to ask.
   *
   * @param concurrency parallel calls
   * @param maxNewTokens token limit per answer (the paper: 1024)
   * @param referencePreset the checkpoint's reference sampling instead of greedy
   * @param constraints coordinate-constrained decoding
   * @param limit ask at most this many samples (0: all)
   */
  public record Options(
      int concurrency,
      int maxNewTokens,
      boolean referencePreset,
      Constraints constraints,
      int limit) {
    public Options {
      if (concurrency < 1) {
        throw new IllegalArgumentException("concurrency must be >= 1, got " + concurrency);
      }
    }
  }

  private final LlavaStClient client;
  private final Options options;

  public EvalRunner(LlavaStClient client, Options options) {
    this.client = client;
    this.options = options;
  }

  /** The predictions already in {@code file} (none if it does not exist), by sample id. */
  public static Map<String, Prediction> readPredictions(Path file) throws IOException {
    Map<String, Prediction> done = new LinkedHashMap<>();
    if (!Files.exists(file)) {
      return done;
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      try {
        Prediction p = Prediction.parse(line);
        done.put(p.id(), p);
      } catch (IOException e) {
        if (i < lines.size() - 1) { // only the last line may be cut by an interruption
          throw new IOException(file + ":" + (i + 1) + ": not a prediction line", e);
        }
      }
    }
    return done;
  }

  /**
   * Asks every sample not yet in {@code predictionsFile} and returns all predictions (old and new),
   * in sample order.
   */
  public List<Prediction> run(
      List<EvalSample> samples, Path predictionsFile, ProgressListener progress)
      throws IOException, InterruptedException {
    Map<String, Prediction> done = readPredictions(predictionsFile);
    rewriteWithoutCutLine(predictionsFile, done);
    List<EvalSample> todo = new ArrayList<>();
    for (EvalSample s : samples) {
      if (!done.containsKey(s.id())
          && (options.limit() <= 0 || done.size() + todo.size() < options.limit())) {
        todo.add(s);
      }
    }
    Map<String, Prediction> results = Collections.synchronizedMap(new HashMap<>(done));
    Map<Path, MediaInfo> uploaded = new HashMap<>();
    AtomicInteger finished = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    progress.phase("eval", todo.size());
    ExecutorService pool =
        Executors.newFixedThreadPool(
            options.concurrency(),
            r -> {
              Thread t = new Thread(r, "llavast-eval");
              t.setDaemon(true);
              return t;
            });
    try (BufferedWriter out =
        Files.newBufferedWriter(
            predictionsFile,
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND)) {
      List<Future<?>> running = new ArrayList<>();
      for (EvalSample s : todo) {
        MediaInfo media = media(s, uploaded); // uploads happen in sample order, once per file
        running.add(
            pool.submit(
                () -> {
                  Prediction p = media == null ? Prediction.missingMedia(s) : ask(s, media);
                  synchronized (out) {
                    try {
                      out.write(p.toJsonLine());
                      out.newLine();
                      out.flush();
                    } catch (IOException e) {
                      throw new UncheckedIOException(e);
                    }
                  }
                  results.put(s.id(), p);
                  int n = finished.incrementAndGet();
                  int bad = p.ok() ? failed.get() : failed.incrementAndGet();
                  synchronized (progress) {
                    progress.phase(
                        String.format(Locale.ROOT, "eval (%d without an answer)", bad),
                        todo.size());
                    progress.advance(n);
                  }
                }));
      }
      for (Future<?> f : running) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          Throwable cause = e.getCause() != null ? e.getCause() : e;
          throw new IOException("writing the predictions failed: " + cause.getMessage(), cause);
        }
      }
    } finally {
      pool.shutdownNow();
      progress.phaseDone();
    }
    List<Prediction> all = new ArrayList<>();
    for (EvalSample s : samples) {
      Prediction p = results.get(s.id());
      if (p != null) {
        all.add(p);
      }
    }
    return all;
  }

  /**
   * The server's media for {@code s}'s file, uploading it the first time; null if the file is
   * missing.
   */
  private @Nullable MediaInfo media(EvalSample s, Map<Path, MediaInfo> uploaded) {
    if (!Files.isRegularFile(s.media())) {
      return null;
    }
    return uploaded.computeIfAbsent(s.media(), p -> client.upload(p).media());
  }

  private Prediction ask(EvalSample s, MediaInfo media) {
    SamplingParams.Builder sampling =
        SamplingParams.newBuilder()
            .setMaxNewTokens(options.maxNewTokens())
            .setReferencePreset(options.referencePreset())
            .setConstraints(options.constraints());
    GenerateRequest.Builder r =
        LlavaStClient.question(media.getMediaId(), s.question())
            .setTask(s.task())
            .setSampling(sampling)
            .setOutput(OutputOptions.newBuilder().setReturnTokenIds(true));
    if (s.clip() != null && media.getFps() > 0) {
      r.setClip(
          ClipRange.newBuilder()
              .setStartSeconds(s.clip()[0] / media.getFps())
              .setEndSeconds(s.clip()[1] / media.getFps()));
    }
    long t0 = System.nanoTime();
    try {
      Answer a = client.generate(r.build());
      return Prediction.of(s, a, (System.nanoTime() - t0) / 1e9);
    } catch (LlavaStException e) {
      return Prediction.failed(
          s, e.code() + "/" + e.reason() + ": " + e.getMessage(), (System.nanoTime() - t0) / 1e9);
    } catch (RuntimeException e) {
      return Prediction.failed(s, "CLIENT: " + e.getMessage(), (System.nanoTime() - t0) / 1e9);
    }
  }

  /**
   * Drops a last line cut by an interruption, so that appended lines start on a line of their own.
   */
  private static void rewriteWithoutCutLine(Path file, Map<String, Prediction> done)
      throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    long valid = lines.stream().filter(l -> !l.isBlank()).count();
    if (valid != done.size() || (Files.size(file) > 0 && !Files.readString(file).endsWith("\n"))) {
      List<String> keep = new ArrayList<>();
      for (Prediction p : done.values()) {
        keep.add(p.toJsonLine());
      }
      Files.write(file, keep, StandardCharsets.UTF_8);
    }
  }
}

package dev.llavast.client.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.llavast.api.v1.Constraints;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.api.v1.Task;
import dev.llavast.api.v1.WorkerStatus;
import dev.llavast.client.Answer;
import dev.llavast.client.AnswerStream;
import dev.llavast.client.Delta;
import dev.llavast.client.LlavaStClient;
import dev.llavast.client.LlavaStException;
import dev.llavast.client.RetryPolicy;
import dev.llavast.client.StreamEvent;
import dev.llavast.client.UploadOptions;
import dev.llavast.client.UploadResult;
import dev.llavast.client.VideoSession;
import dev.llavast.client.bench.Bench;
import dev.llavast.client.bench.BenchConfig;
import dev.llavast.client.bench.BenchReport;
import dev.llavast.client.bench.EmbeddedServer;
import dev.llavast.client.bench.LatencyChart;
import dev.llavast.client.eval.Datasets;
import dev.llavast.client.eval.EvalReport;
import dev.llavast.client.eval.EvalRunner;
import dev.llavast.client.eval.EvalSample;
import dev.llavast.client.eval.Prediction;
import dev.llavast.client.eval.Scores;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * The {@code llavast} command-line tool: upload, ask, session, status, model and bench. Exit code 0
 * on success, 1 when the server returned an error (printed with its reason), 2 on bad usage.
 */
@Command(
    name = "llavast",
    mixinStandardHelpOptions = true,
    version = "llavast-client 0.1.0",
    description =
        "Client for LLaVA-ST Serve: ask a video model questions answered with timestamps and boxes.",
    subcommands = {
      LlavaStCli.Upload.class,
      LlavaStCli.Ask.class,
      LlavaStCli.Session.class,
      LlavaStCli.Status.class,
      LlavaStCli.Model.class,
      LlavaStCli.BenchCmd.class,
      LlavaStCli.Eval.class
    })
public final class LlavaStCli {
  @Option(
      names = {"-t", "--target"},
      description = "Server host:port (default: $LLAVAST_TARGET or localhost:50051).")
  String target = System.getenv().getOrDefault("LLAVAST_TARGET", "localhost:50051");

  @Option(names = "--tls", description = "Use TLS with the JVM trust store.")
  boolean tls;

  @Option(
      names = "--deadline",
      description = "Deadline of each call attempt in seconds (default ${DEFAULT-VALUE}).")
  double deadlineSeconds = 300;

  @Option(
      names = "--retries",
      description =
          "Attempts in all on UNAVAILABLE / RESOURCE_EXHAUSTED (default ${DEFAULT-VALUE}).")
  int attempts = 5;

  @Option(
      names = "--retry-budget",
      description = "Seconds within which retries must start (default ${DEFAULT-VALUE}).")
  double retryBudgetSeconds = 30;

  final PrintStream out;
  final PrintStream err;
  final InputStream in;
  final boolean terminal;

  LlavaStCli(PrintStream out, PrintStream err, InputStream in, boolean terminal) {
    this.out = out;
    this.err = err;
    this.in = in;
    this.terminal = terminal;
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err, System.in, System.console() != null));
  }

  /** Runs one command line; returns the exit code. Any thread; the streams are not closed. */
  public static int run(
      String[] args, PrintStream out, PrintStream err, InputStream in, boolean terminal) {
    CommandLine cl = new CommandLine(new LlavaStCli(out, err, in, terminal));
    cl.setOut(
        new java.io.PrintWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true));
    cl.setErr(
        new java.io.PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true));
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (ex instanceof LlavaStException e) {
            Output.printError(err, e);
            return 1;
          }
          err.println("error: " + ex);
          return 1;
        });
    return cl.execute(args);
  }

  LlavaStClient client(@Nullable String targetOverride) {
    return LlavaStClient.builder()
        .target(targetOverride != null ? targetOverride : target)
        .tls(tls)
        .deadline(Duration.ofMillis((long) (deadlineSeconds * 1000)))
        .retryPolicy(
            RetryPolicy.defaults()
                .withMaxAttempts(attempts)
                .withMaxElapsed(Duration.ofMillis((long) (retryBudgetSeconds * 1000))))
        .build();
  }

  ProgressBar bar(boolean forced, boolean bytes) {
    return new ProgressBar(err, forced || terminal, bytes);
  }

  static String printJson(MessageOrBuilder m) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(m);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("API messages always print as JSON", e);
    }
  }

  /** Which media a question is about. */
  static final class MediaChoice {
    @Option(
        names = "--video",
        paramLabel = "FILE",
        description = "A video file (uploaded unless the server has it).")
    @Nullable Path video;

    @Option(names = "--image", paramLabel = "FILE", description = "An image file (JPEG or PNG).")
    @Nullable Path image;

    @Option(
        names = "--media",
        paramLabel = "ID",
        description = "An uploaded media id (sha256:...).")
    @Nullable String mediaId;
  }

  /** Resolves the media choice to an id, uploading a file if needed (progress to stderr). */
  static String resolve(LlavaStClient client, MediaChoice m, ProgressBar bar, int chunkBytes) {
    if (m.mediaId != null) {
      return m.mediaId;
    }
    Path file = m.video != null ? m.video : Objects.requireNonNull(m.image, "picocli sets one");
    UploadOptions o =
        UploadOptions.defaults()
            .withChunkBytes(chunkBytes)
            .withKind(m.video != null ? MediaKind.MEDIA_KIND_VIDEO : MediaKind.MEDIA_KIND_IMAGE)
            .withProgress((s, t) -> bar.advance(s));
    bar.phase("upload", file.toFile().length());
    UploadResult r = client.upload(file, o);
    bar.phaseDone();
    return r.mediaId();
  }

  // ------------------------------------------------------------------ upload

  @Command(
      name = "upload",
      mixinStandardHelpOptions = true,
      description = "Upload a video or image; prints its media id.")
  static final class Upload implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @Parameters(paramLabel = "FILE")
    Path file;

    @Option(
        names = "--chunk-size",
        description = "Bytes per upload message (default ${DEFAULT-VALUE}).")
    int chunkBytes = UploadOptions.DEFAULT_CHUNK_BYTES;

    @Option(names = "--force", description = "Upload even if the server already has this content.")
    boolean force;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(
        names = "--progress",
        description = "Show a progress bar even when stderr is not a terminal.")
    boolean progress;

    @Override
    public Integer call() throws Exception {
      if (!Files.isRegularFile(file)) {
        throw new CommandLine.ParameterException(new CommandLine(this), "no such file: " + file);
      }
      ProgressBar bar = cli.bar(progress, true);
      try (LlavaStClient c = cli.client(null)) {
        bar.phase("upload", Files.size(file));
        UploadResult r =
            c.upload(
                file,
                UploadOptions.defaults()
                    .withChunkBytes(chunkBytes)
                    .withSkipIfPresent(!force)
                    .withProgress((s, t) -> bar.advance(s)));
        bar.phaseDone();
        if (json) {
          var n = Output.JSON.createObjectNode();
          n.set("media", Output.JSON.readTree(printJson(r.media())));
          n.put("skipped", r.skipped());
          n.put("chunks", r.chunks());
          cli.out.println(Output.JSON.writeValueAsString(n));
        } else {
          var m = r.media();
          cli.out.println(r.mediaId());
          cli.out.printf(
              Locale.ROOT,
              "%s: %s, %d bytes, %dx%d, %.2fs, %d frames%s%n",
              m.getLabel(),
              m.getKind().name().replace("MEDIA_KIND_", "").toLowerCase(Locale.ROOT),
              m.getSizeBytes(),
              m.getWidthPx(),
              m.getHeightPx(),
              m.getDurationSeconds(),
              m.getFrameCount(),
              r.skipped()
                  ? " (already on the server, not sent again)"
                  : " (uploaded in " + r.chunks() + " chunks)");
        }
      }
      return 0;
    }
  }

  // ------------------------------------------------------------------ ask

  @Command(
      name = "ask",
      mixinStandardHelpOptions = true,
      description = "Ask one question about a video or image; streams the answer.")
  static final class Ask implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @ArgGroup(exclusive = true, multiplicity = "1")
    MediaChoice media;

    @Parameters(
        paramLabel = "QUESTION",
        description = "The question (LLaVA-ST shorthand like <t0.41> allowed).")
    String question;

    @Option(
        names = {"--max-new-tokens", "--max-tokens"},
        description = "Maximum tokens to generate (0: server default).")
    int maxTokens;

    @Option(
        names = "--task",
        completionCandidates = TaskNames.class,
        description = "Task template: ${COMPLETION-CANDIDATES} (default FREE_FORM).")
    String task = "FREE_FORM";

    @Option(names = "--temperature", description = "0 = greedy (default).")
    float temperature;

    @Option(names = "--seed", description = "Sampling seed.")
    @Nullable Long seed;

    @Option(
        names = "--constrain",
        paramLabel = "MODE",
        description =
            "Coordinate-constrained decoding: off "
                + "(default), coordinates (every coordinate group whole and valid) or task-shape (also the --task answer "
                + "shape).")
    String constrain = "off";

    @Option(
        names = "--json",
        description = "Print one JSON object with the whole answer instead of streaming.")
    boolean json;

    @Option(
        names = "--progress",
        description = "Show the upload progress bar even when not on a terminal.")
    boolean progress;

    @Option(names = "--chunk-size", description = "Upload chunk bytes (default ${DEFAULT-VALUE}).")
    int chunkBytes = UploadOptions.DEFAULT_CHUNK_BYTES;

    @Override
    public Integer call() throws Exception {
      try (LlavaStClient c = cli.client(null)) {
        String id = resolve(c, media, cli.bar(progress, true), chunkBytes);
        SamplingParams.Builder s =
            SamplingParams.newBuilder()
                .setMaxNewTokens(maxTokens)
                .setTemperature(temperature)
                .setConstraints(constraints(constrain));
        if (seed != null) {
          s.setSeed(seed);
        }
        GenerateRequest req =
            LlavaStClient.question(id, question)
                .setTask(Task.valueOf("TASK_" + task.toUpperCase(Locale.ROOT)))
                .setSampling(s)
                .build();
        try {
          streamAnswer(cli, c.generateStream(req), json);
        } catch (LlavaStException e) {
          if (json) {
            cli.out.println(Output.JSON.writeValueAsString(Output.errorJson(e)));
            return 1;
          }
          throw e;
        }
      }
      return 0;
    }
  }

  /** The API's task names without their prefix, for {@code --task}'s help and completion. */
  static final class TaskNames extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    TaskNames() {
      for (Task t : Task.values()) {
        if (t != Task.UNRECOGNIZED) {
          add(t.name().substring("TASK_".length()));
        }
      }
    }
  }

  /**
   * {@code off}, {@code coordinates} or {@code task-shape} (any case, '-' or '_') as the API's
   * enum.
   */
  static Constraints constraints(String mode) {
    String m = mode.strip().toUpperCase(Locale.ROOT).replace('-', '_');
    for (Constraints c : Constraints.values()) {
      if (c != Constraints.UNRECOGNIZED && c.name().equals("CONSTRAINTS_" + m)) {
        return c;
      }
    }
    throw new IllegalArgumentException(
        "--constrain must be off, coordinates or task-shape, got '" + mode + "'");
  }

  /** Prints a streaming answer (text as it arrives, then coordinates) or one JSON object. */
  static Answer streamAnswer(LlavaStCli cli, AnswerStream stream, boolean json) throws Exception {
    long t0 = System.nanoTime();
    double ttft = -1;
    Answer answer = null;
    try (stream) {
      while (stream.hasNext()) {
        StreamEvent e = stream.next();
        if (e instanceof Delta d) {
          if (ttft < 0 && !d.text().isEmpty()) {
            ttft = (System.nanoTime() - t0) / 1e9;
          }
          if (!json) {
            cli.out.print(d.text());
            cli.out.flush();
          }
        } else {
          answer = (Answer) e;
        }
      }
    }
    if (answer == null) {
      throw new IllegalStateException("the stream ended without a final answer");
    }
    if (json) {
      cli.out.println(Output.JSON.writeValueAsString(Output.answerJson(answer, ttft)));
    } else {
      cli.out.println();
      Output.printCoordinates(cli.out, answer);
      Output.printSummary(cli.out, answer, ttft);
    }
    return answer;
  }

  // ------------------------------------------------------------------ session

  @Command(
      name = "session",
      mixinStandardHelpOptions = true,
      description = "Interactive: several questions about one video, one per line on stdin.")
  static final class Session implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @ArgGroup(exclusive = true, multiplicity = "1")
    MediaChoice media;

    @Option(
        names = {"--max-new-tokens", "--max-tokens"},
        description = "Maximum tokens per answer (0: server default).")
    int maxTokens;

    @Option(names = "--json", description = "One JSON object per answer (JSON lines).")
    boolean json;

    @Option(
        names = "--progress",
        description = "Show the upload progress bar even when not on a terminal.")
    boolean progress;

    @Override
    public Integer call() throws Exception {
      try (LlavaStClient c = cli.client(null)) {
        String id = resolve(c, media, cli.bar(progress, true), UploadOptions.DEFAULT_CHUNK_BYTES);
        try (VideoSession s = c.openSession(id)) {
          if (!json) {
            cli.err.println(
                "session "
                    + s.sessionId()
                    + " on "
                    + id
                    + "; one question per line, end with EOF (Ctrl-D)");
          }
          BufferedReader r =
              new BufferedReader(new InputStreamReader(cli.in, StandardCharsets.UTF_8));
          int failures = 0;
          while (true) {
            if (cli.terminal) {
              cli.err.print("> ");
              cli.err.flush();
            }
            String line = r.readLine();
            if (line == null) {
              break;
            }
            if (line.isBlank()) {
              continue;
            }
            try {
              streamAnswer(cli, s.askStream(line.strip(), maxTokens), json);
            } catch (LlavaStException e) {
              failures++;
              if (json) {
                cli.out.println(Output.JSON.writeValueAsString(Output.errorJson(e)));
              } else {
                Output.printError(cli.err, e);
              }
            }
          }
          return failures == 0 ? 0 : 1;
        }
      }
    }
  }

  // ------------------------------------------------------------------ status / model

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description = "Server readiness, queue, workers and feature cache.")
  static final class Status implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @Option(names = "--json", description = "Print the ServerStatus message as JSON.")
    boolean json;

    @Override
    public Integer call() {
      try (LlavaStClient c = cli.client(null)) {
        ServerStatus s = c.serverStatus();
        if (json) {
          cli.out.println(printJson(s));
          return 0;
        }
        cli.out.printf(
            Locale.ROOT,
            "ready: %s%ndraining: %s%nqueue depth: %d%nactive sessions: %d%nuptime: %.1fs%n",
            s.getReady(),
            s.getDraining(),
            s.getQueueDepth(),
            s.getActiveSessions(),
            s.getUptimeSeconds());
        for (WorkerStatus w : s.getWorkersList()) {
          cli.out.printf(
              Locale.ROOT,
              "worker %s: %s, running %d, waiting %d, kv %d/%d (%.1f%%)%n",
              w.getDevice(),
              w.getHealthy() ? "healthy" : "UNHEALTHY",
              w.getRunningSequences(),
              w.getWaitingSequences(),
              w.getKvBlocksUsed(),
              w.getKvBlocksTotal(),
              100 * w.getKvUsageRatio());
        }
        var f = s.getFeatureCache();
        cli.out.printf(
            Locale.ROOT,
            "feature cache: %d entries, %d/%d bytes, hits %d, misses %d, hit ratio %.3f%n",
            f.getEntries(),
            f.getWeightBytes(),
            f.getMaxWeightBytes(),
            f.getHits(),
            f.getMisses(),
            f.getHitRatio());
        return s.getReady() ? 0 : 3;
      }
    }
  }

  @Command(
      name = "model",
      mixinStandardHelpOptions = true,
      description = "The loaded model and the server's limits.")
  static final class Model implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @Option(names = "--json", description = "Print the ModelInfo message as JSON.")
    boolean json;

    @Override
    public Integer call() {
      try (LlavaStClient c = cli.client(null)) {
        ModelInfo m = c.modelInfo();
        if (json) {
          cli.out.println(printJson(m));
          return 0;
        }
        cli.out.printf(
            Locale.ROOT,
            "model: %s%s%n",
            m.getModelName(),
            m.getRandomWeightsDemo() ? " (random-weight demo: answers are meaningless)" : "");
        cli.out.printf(
            Locale.ROOT,
            "layers %d, hidden %d, heads %d/%d kv, vocab %d, bins %d, dtype %s%n",
            m.getNumLayers(),
            m.getHiddenSize(),
            m.getNumAttentionHeads(),
            m.getNumKeyValueHeads(),
            m.getVocabSize(),
            m.getCoordinateBins(),
            m.getDtype());
        cli.out.printf(
            Locale.ROOT,
            "frames/video %d, video tokens %d, image tokens %d, context %d%n",
            m.getFramesPerVideo(),
            m.getVideoPromptTokens(),
            m.getImagePromptTokens(),
            m.getContextLimitTokens());
        cli.out.println("devices: " + String.join(", ", m.getDevicesList()));
        var l = m.getLimits();
        cli.out.printf(
            Locale.ROOT,
            "limits: upload %d bytes, chunk %d bytes, max new tokens %d, queue %d, sessions %d%n",
            l.getMaxUploadBytes(),
            l.getMaxChunkBytes(),
            l.getMaxNewTokens(),
            l.getMaxQueuedRequests(),
            l.getMaxSessions());
        return 0;
      }
    }
  }

  // ------------------------------------------------------------------ eval

  @Command(
      name = "eval",
      mixinStandardHelpOptions = true,
      description =
          "Runs a grounding benchmark (Charades-STA, "
              + "RefCOCO, ST-Align) through the server and prints the paper's metrics in LLaVA-ST's and lmms-eval's "
              + "conventions.")
  static final class Eval implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @Option(
        names = "--format",
        required = true,
        description = "Data set format: ${COMPLETION-CANDIDATES}.",
        completionCandidates = Formats.class)
    String format;

    @Option(
        names = "--annotations",
        required = true,
        paramLabel = "FILE",
        description = "The annotation file.")
    Path annotations;

    @Option(
        names = "--media-dir",
        required = true,
        paramLabel = "DIR",
        description = "Folder of the videos or images.")
    Path mediaDir;

    @Option(
        names = "--predictions",
        paramLabel = "FILE",
        description =
            "Predictions (JSONL); an existing file is resumed (default: eval-<format>.jsonl).")
    @Nullable Path predictions;

    @Option(names = "--concurrency", description = "Parallel questions (default ${DEFAULT-VALUE}).")
    int concurrency = 4;

    @Option(
        names = {"--max-new-tokens", "--max-tokens"},
        description = "Tokens per answer (default ${DEFAULT-VALUE}, " + "as the paper).")
    int maxNewTokens = 1024;

    @Option(
        names = "--sampling",
        description =
            "greedy (default) or reference (the checkpoint's preset, as the "
                + "paper's scripts sample).")
    String sampling = "greedy";

    @Option(
        names = "--constrain",
        paramLabel = "MODE",
        description =
            "Coordinate-constrained decoding: off " + "(default), coordinates or task-shape.")
    String constrain = "off";

    @Option(names = "--limit", description = "Ask at most this many samples (0: all).")
    int limit;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the report as JSON.")
    @Nullable Path out;

    @Option(
        names = "--plot",
        paramLabel = "FILE",
        description = "Write a PNG histogram of per-sample IoU.")
    @Nullable Path plot;

    @Option(
        names = "--progress",
        description = "Show the progress bar even when not on a terminal.")
    boolean progress;

    @Override
    public Integer call() throws Exception {
      if (!sampling.equals("greedy") && !sampling.equals("reference")) {
        throw new IllegalArgumentException(
            "--sampling must be greedy or reference, got '" + sampling + "'");
      }
      List<EvalSample> samples = Datasets.load(format, annotations, mediaDir);
      Path file =
          predictions != null
              ? predictions
              : Path.of("eval-" + format.toLowerCase(Locale.ROOT) + ".jsonl");
      Map<String, Object> settings = new LinkedHashMap<>();
      settings.put("format", format);
      settings.put("annotations", annotations.toString());
      settings.put("samples", samples.size());
      settings.put("sampling", sampling);
      settings.put("max_new_tokens", maxNewTokens);
      settings.put("constraints", constrain);
      settings.put("concurrency", concurrency);
      settings.put("predictions", file.toString());
      try (LlavaStClient c = cli.client(null)) {
        EvalRunner runner =
            new EvalRunner(
                c,
                new EvalRunner.Options(
                    concurrency,
                    maxNewTokens,
                    sampling.equals("reference"),
                    constraints(constrain),
                    limit));
        List<Prediction> preds = runner.run(samples, file, cli.bar(progress, false));
        EvalReport report =
            new EvalReport(cli.target, c.modelInfo(), settings, Scores.of(samples, preds));
        cli.out.print(report.table());
        if (out != null) {
          Files.writeString(
              out, Output.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report.json()));
        }
        if (plot != null) {
          report.plot(plot);
        }
      }
      return 0;
    }
  }

  /** The data set formats, for {@code --format}'s help. */
  static final class Formats extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    Formats() {
      super(Datasets.FORMATS);
    }
  }

  // ------------------------------------------------------------------ bench

  @Command(
      name = "bench",
      mixinStandardHelpOptions = true,
      description =
          "Load generator: V videos x Q questions at C concurrent clients, bounded by count and time.")
  static final class BenchCmd implements Callable<Integer> {
    @ParentCommand LlavaStCli cli;

    @Option(
        names = "--video",
        paramLabel = "FILE",
        description = "Video files to use (repeatable); else generated videos.")
    List<Path> videos = new ArrayList<>();

    @Option(
        names = "--videos",
        description = "V: generated videos when no --video is given (default ${DEFAULT-VALUE}).")
    int generated = 2;

    @Option(
        names = "--questions",
        description = "Q: questions per video (default ${DEFAULT-VALUE}).")
    int questions = 4;

    @Option(
        names = "--concurrency",
        split = ",",
        description = "C, or a sweep like 1,4,16 (default ${DEFAULT-VALUE}).")
    List<Integer> concurrency = new ArrayList<>(List.of(4));

    @Option(
        names = {"--max-new-tokens", "--max-tokens"},
        description = "M: max new tokens per request (default ${DEFAULT-VALUE}).")
    int maxTokens = 32;

    @Option(
        names = "--rate",
        description = "Open-loop arrival rate in requests/s (Poisson); 0 = closed loop (default).")
    double rate;

    @Option(
        names = "--duration",
        description = "Time bound per level in seconds (default ${DEFAULT-VALUE}).")
    double durationSeconds = 60;

    @Option(
        names = "--seed",
        description = "Seed for generated videos and arrivals (default ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(
        names = "--warmup",
        description =
            "Warm-up requests before measuring, about an extra video (default ${DEFAULT-VALUE}).")
    int warmup = 2;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the report as JSON.")
    @Nullable Path jsonOut;

    @Option(
        names = "--plot",
        paramLabel = "FILE",
        description = "Write a PNG of latency percentiles vs concurrency.")
    @Nullable Path plot;

    @Option(names = "--json", description = "Print the JSON report to stdout instead of the table.")
    boolean json;

    @Option(names = "--progress", description = "Show progress bars even when not on a terminal.")
    boolean progress;

    @Option(
        names = "--in-process",
        arity = "0..1",
        fallbackValue = "",
        paramLabel = "PROVIDER",
        description = "Start an embedded server (from the class path) instead of using --target.")
    @Nullable String inProcess;

    @Option(
        names = "--server-opt",
        paramLabel = "KEY=VALUE",
        description = "Options for the embedded server.")
    Map<String, String> serverOptions = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
      for (Path v : videos) {
        if (!Files.isRegularFile(v)) {
          throw new CommandLine.ParameterException(
              new CommandLine(this), "no such video file: " + v);
        }
      }
      BenchConfig cfg =
          new BenchConfig(
              videos,
              generated,
              questions,
              concurrency,
              maxTokens,
              rate,
              Duration.ofMillis((long) (durationSeconds * 1000)),
              BenchConfig.DEFAULT_QUESTIONS,
              seed,
              warmup);
      @Nullable EmbeddedServer server =
          inProcess == null ? null : EmbeddedServer.find(inProcess).start(serverOptions);
      try (LlavaStClient c = cli.client(server == null ? null : server.target())) {
        BenchReport report = new Bench(c, cfg, cli.bar(progress, false)).run();
        if (json) {
          cli.out.println(report.toJsonString());
        } else {
          report.printTable(cli.out);
        }
        if (jsonOut != null) {
          Files.writeString(jsonOut, report.toJsonString());
        }
        if (plot != null) {
          LatencyChart.write(report.levels(), plot);
        }
        boolean anyOk = report.levels().stream().anyMatch(l -> l.succeeded() > 0);
        return anyOk ? 0 : 1;
      } finally {
        if (server != null) {
          server.close();
        }
      }
    }
  }
}

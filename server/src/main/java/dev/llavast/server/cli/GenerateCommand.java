package dev.llavast.server.cli;

import dev.llavast.models.coords.Task;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.MediaException;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.AnswerListener;
import dev.llavast.server.generation.DeviceUnavailableException;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.EngineConfig;
import dev.llavast.server.generation.FinalAnswer;
import dev.llavast.server.generation.GenerationJob;
import dev.llavast.server.generation.Question;
import dev.llavast.server.generation.Sampling;
import dev.llavast.server.media.Clips;
import dev.llavast.server.media.MediaErrors;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.Tenant;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code llavast-server generate}: one question about one video, image or frame directory, answered
 * in-process by the server's own engine without the network (as {@code vllm.LLM} is to {@code vllm
 * serve}): the same media store, pipeline and feature cache, the same prompt rendering and task
 * templates, the same scheduler (one worker) and the same answer assembly. A frame directory is a
 * video at {@code --fps}, sampled to the model's frame count like an uploaded frame sequence.
 *
 * <p>With {@code --json} it prints one JSON object (stable key order) holding the generated ids,
 * their text, the decoded coordinates (bins, normalized values, seconds and pixels), the prompt
 * ids, the media's sampling, per-token log-probabilities, timings and usage: what an independent
 * reference implementation needs to check our forward pass token by token.
 *
 * <p>Exit codes: 0 answered; 1 the checkpoint could not be opened or generation failed; 2 bad
 * command line, media or prompt. Runs on the thread that calls {@link #call()}, which waits for the
 * engine's worker and releases the engine before returning.
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description =
        "Answers one prompt about one video, image or frame directory with the server's engine, "
            + "in-process, without a server.",
    sortOptions = false)
public final class GenerateCommand implements Callable<Integer> {
  /** Exit code for bad input: media, prompt or flags. */
  static final int EXIT_BAD_INPUT = 2;

  /** Exit code for a checkpoint that cannot be opened or a failed forward pass. */
  static final int EXIT_FAILED = 1;

  @Spec CommandSpec spec;

  @ArgGroup(exclusive = true, multiplicity = "1")
  MediaSource media;

  /** Exactly one media flag. */
  static final class MediaSource {
    @Option(
        names = "--video",
        required = true,
        description = "A video file (sampled to the model's frame count).")
    @Nullable Path video;

    @Option(names = "--image", required = true, description = "A JPEG, PNG, BMP or GIF image.")
    @Nullable Path image;

    @Option(
        names = "--frames-dir",
        required = true,
        description =
            "A directory of image frames in file-name order: a video at --fps, sampled to the model's "
                + "frame count like an uploaded frame sequence.")
    @Nullable Path framesDir;
  }

  @Option(
      names = "--fps",
      description = "Frame rate of --frames-dir, for seconds (default: ${DEFAULT-VALUE}).")
  double fps = 1.0;

  @Option(names = "--clip-start", description = "Clip start in seconds (video and frames).")
  @Nullable Double clipStart;

  @Option(names = "--clip-end", description = "Clip end in seconds, inclusive (video and frames).")
  @Nullable Double clipEnd;

  @Option(
      names = "--prompt",
      required = true,
      description = "The question; coordinates may be written <t0.41>, <h0.2>, <w0.3>.")
  String prompt;

  @Option(
      names = "--system-prompt",
      description = "System prompt (default: \"" + ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\").")
  @Nullable String systemPrompt;

  @Option(
      names = "--task",
      description =
          "Task template and how to read the answer: FREE_FORM, REC, REG, DGC, TVG,"
              + " TR, STVG, SVG, ELC or DVC (default: ${DEFAULT-VALUE}).")
  String task = "FREE_FORM";

  @Mixin SamplingOptions sampling;

  @Mixin EngineOptions engine;

  @Option(names = "--json", description = "Print one JSON object instead of text.")
  boolean json;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Task parsedTask;
    Sampling parsedSampling;
    ClipRange clip;
    EngineConfig config;
    try {
      parsedTask = parseTask(task);
      parsedSampling = sampling.toSampling(true);
      checkFlags();
      clip =
          clipStart == null && clipEnd == null
              ? null
              : Clips.of(
                  clipStart == null ? 0.0 : clipStart, clipEnd == null ? 0.0 : clipEnd, "clip");
      config = engineConfig();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    } catch (ApiException e) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--clip-start/--clip-end: " + e.violations().get(0).description());
    }
    long t0 = System.nanoTime();
    Engine eng;
    try {
      eng = Engine.start(config, Metrics.noop());
    } catch (DeviceUnavailableException e) {
      err.println("error: " + e.getMessage());
      return DeviceUnavailableException.EXIT_CODE;
    } catch (IOException | RuntimeException e) {
      err.println(
          "error: cannot open the checkpoint"
              + (engine.modelDir == null ? "" : " in " + engine.modelDir)
              + ": "
              + e.getMessage());
      return EXIT_FAILED;
    }
    long loaded = System.nanoTime();
    try {
      GenerationJob job =
          new GenerationJob(
              "",
              media(eng),
              clip,
              Question.text(prompt),
              parsedTask,
              parsedSampling,
              0,
              null,
              systemPrompt,
              List.of());
      FinalAnswer answer = answer(eng, job);
      if (json) {
        out.println(
            AnswerJson.of(
                answer,
                new AnswerJson.Run(
                    source().toAbsolutePath().toString(),
                    eng.model().directory().toAbsolutePath().toString(),
                    eng,
                    prompt,
                    systemPrompt,
                    parsedSampling,
                    config.maxBatchTokens(),
                    loaded - t0,
                    System.nanoTime() - t0)));
      } else {
        out.println(AnswerJson.renderText(answer));
        String coords = AnswerJson.renderGroups(answer);
        if (!coords.isEmpty()) {
          out.println("coordinates: " + coords);
        }
      }
      out.flush();
      return 0;
    } catch (ApiException e) {
      err.println("error: " + describe(e));
      return e.reason().kind() == Reason.Kind.INVALID_ARGUMENT ? EXIT_BAD_INPUT : EXIT_FAILED;
    } finally {
      eng.shutdown(Duration.ZERO);
      try {
        eng.close();
      } catch (IOException | RuntimeException e) {
        err.println("warning: could not release the engine: " + e.getMessage());
      }
    }
  }

  /**
   * The engine for one question: the server's defaults, the flags given, and the media in a
   * temporary store.
   */
  EngineConfig engineConfig() {
    int defaultLimit = ServerConfig.defaults().maxNewTokensLimit();
    return engine
        .applyTo(ServerConfig.builder())
        .defaultMaxNewTokens(sampling.maxNewTokens)
        .maxNewTokensLimit(Math.max(sampling.maxNewTokens, defaultLimit))
        .maxSessions(1)
        .build()
        .engine();
  }

  /** Runs the job on the engine and waits for its answer. */
  private static FinalAnswer answer(Engine eng, GenerationJob job) {
    CompletableFuture<FinalAnswer> done = new CompletableFuture<>();
    eng.start(
        job,
        new AnswerListener() {
          @Override
          public void onFinish(FinalAnswer answer) {
            done.complete(answer);
          }

          @Override
          public void onError(ApiException error) {
            done.completeExceptionally(error);
          }
        });
    try {
      return done.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiException.of(Reason.CANCELLED, "interrupted while waiting for the answer");
    } catch (ExecutionException e) {
      throw (ApiException) e.getCause();
    }
  }

  /** The error in the command's words: media failures name their reason, a bad prompt says so. */
  private static String describe(ApiException e) {
    String mediaError = e.metadata().get("media_error");
    if (mediaError != null) {
      return "bad media (" + mediaError + "): " + e.getMessage();
    }
    for (FieldViolation v : e.violations()) {
      if (v.field().equals("prompt")) {
        return "bad prompt: " + v.description();
      }
    }
    return e.reason() == Reason.MODEL_FAILURE
        ? "generation failed: " + e.getMessage()
        : e.getMessage();
  }

  // ------------------------------------------------------------------------------------ media

  private Path source() {
    if (media.video != null) {
      return media.video;
    }
    return media.image != null ? media.image : frames();
  }

  private Path frames() {
    return Objects.requireNonNull(media.framesDir, "picocli sets one media option");
  }

  /**
   * The media flag's file(s), stored whole in the engine's media store (hashed and probed like an
   * upload).
   */
  private GenerationJob.Media media(Engine eng) {
    if (media.video != null) {
      return new GenerationJob.Media(
          DecodedMedia.Kind.VIDEO,
          eng.storeWhole(Tenant.OPEN, DecodedMedia.Kind.VIDEO, List.of(read(media.video)), 0.0));
    }
    if (media.image != null) {
      return new GenerationJob.Media(
          DecodedMedia.Kind.IMAGE,
          eng.storeWhole(Tenant.OPEN, DecodedMedia.Kind.IMAGE, List.of(read(media.image)), 0.0));
    }
    List<ByteBuffer> frames = new ArrayList<>();
    for (Path f : frameFiles(frames())) {
      frames.add(read(f));
    }
    CompletableFuture<StoredMedia> stored =
        eng.storeWhole(Tenant.OPEN, DecodedMedia.Kind.FRAMES, frames, fps);
    return new GenerationJob.Media(DecodedMedia.Kind.FRAMES, stored);
  }

  private static ByteBuffer read(Path file) {
    try {
      return ByteBuffer.wrap(Files.readAllBytes(file));
    } catch (IOException e) {
      throw ApiException.invalid("media", "cannot read " + file + ": " + e.getMessage());
    }
  }

  private static List<Path> frameFiles(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw ApiException.invalid("frames_dir", "--frames-dir " + dir + " is not a directory");
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw ApiException.invalid(
          "frames_dir", "cannot list --frames-dir " + dir + ": " + e.getMessage());
    }
    if (files.isEmpty()) {
      throw MediaErrors.toApi(
          new MediaException(
              MediaException.Reason.EMPTY, "--frames-dir " + dir + " holds no files"));
    }
    return files;
  }

  // ------------------------------------------------------------------------------------ flags

  private void checkFlags() {
    if (sampling.maxNewTokens > ServerConfig.MAX_NEW_TOKENS_CAP) {
      throw new IllegalArgumentException(
          "--max-new-tokens must be at most "
              + ServerConfig.MAX_NEW_TOKENS_CAP
              + ", got "
              + sampling.maxNewTokens);
    }
    if (!(fps > 0) || !Double.isFinite(fps) || fps > 1000) {
      throw new IllegalArgumentException("--fps must be in (0, 1000], got " + fps);
    }
    if (media.image != null && (clipStart != null || clipEnd != null)) {
      throw new IllegalArgumentException(
          "--clip-start/--clip-end apply to --video and --frames-dir, not --image");
    }
  }

  /** A task by its name in the API (without {@code TASK_}), the model and both command lines. */
  static Task parseTask(String name) {
    try {
      return Task.valueOf(name.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--task " + name + " is not one of " + Arrays.toString(Task.values()));
    }
  }
}

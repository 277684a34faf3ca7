package dev.llavast.server;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.models.CheckpointException;
import dev.llavast.models.LlavaSt;
import dev.llavast.models.LlavaStModel;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.Coordinate;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.coords.CoordinateFormat;
import dev.llavast.models.coords.CoordinateStreamParser;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.SpaceAxis;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.Task;
import dev.llavast.models.coords.TaskResult;
import dev.llavast.models.coords.TimeAxis;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaException;
import dev.llavast.models.media.MediaKeys;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.models.media.RgbImage;
import dev.llavast.models.media.VideoSampling;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.PromptFormatException;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.models.tokenizer.StreamDecoder;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code llavast-server generate}: one question about one video, image or frame directory, answered
 * in-process on the CPU with no server. Prefills the rendered prompt in chunks and decodes one token
 * per {@link LlavaStModel#step} for a single sequence with an identity block table, exactly as the
 * scheduler would drive the executor.
 *
 * <p>With {@code --json} it prints one JSON object (stable key order) holding the generated ids, their
 * text, the decoded coordinates (bins, normalized values, seconds and pixels), the prompt ids, the
 * media's sampling, per-token log-probabilities, timings and usage: what an independent reference
 * implementation needs to check our forward pass token by token.
 *
 * <p>Exit codes: 0 answered; 1 the checkpoint could not be opened or generation failed; 2 bad
 * command line, media or prompt. Runs on the thread that calls {@link #call()}; media decoding uses
 * a small private pool that is shut down before returning.
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Answers one prompt about one video, image or frame directory on the CPU, without a server.",
    sortOptions = false)
final class GenerateCommand implements Callable<Integer> {
  /** Exit code for bad input: media, prompt or flags. */
  static final int EXIT_BAD_INPUT = 2;
  /** Exit code for a checkpoint that cannot be opened or a failed forward pass. */
  static final int EXIT_FAILED = 1;

  private static final int BLOCK_SIZE = 16;
  private static final String PACKER_VERSION = "generate";

  @Spec CommandSpec spec;

  @Option(names = "--model-dir", description = "Checkpoint directory (default: the random-weight demo checkpoint).")
  Path modelDir;

  @ArgGroup(exclusive = true, multiplicity = "1")
  MediaSource media;

  /** Exactly one media flag. */
  static final class MediaSource {
    @Option(names = "--video", required = true, description = "A video file (sampled to the model's frame count).")
    Path video;

    @Option(names = "--image", required = true, description = "A JPEG, PNG, BMP or GIF image.")
    Path image;

    @Option(names = "--frames-dir", required = true,
        description = "A directory of image frames, sorted by file name and used as given.")
    Path framesDir;
  }

  @Option(names = "--fps", description = "Frame rate of --frames-dir, for seconds (default: ${DEFAULT-VALUE}).")
  double fps = 1.0;

  @Option(names = "--clip-start", description = "Clip start in seconds (video and frames).")
  Double clipStart;

  @Option(names = "--clip-end", description = "Clip end in seconds, inclusive (video and frames).")
  Double clipEnd;

  @Option(names = "--prompt", required = true,
      description = "The question; coordinates may be written <t0.41>, <h0.2>, <w0.3>.")
  String prompt;

  @Option(names = "--system-prompt", description = "System prompt (default: \"" + ChatTemplate.DEFAULT_SYSTEM_PROMPT
      + "\").")
  String systemPrompt;

  @Option(names = "--task", description = "How to read the answer: REC, REG, DGC, TVG, TR, STVG, SVG, ELC, DVC or FREE"
      + " (default: ${DEFAULT-VALUE}).")
  String task = "FREE";

  @Option(names = "--max-new-tokens", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
  int maxNewTokens = 128;

  @Option(names = "--greedy", description = "Greedy decoding (the default); not combinable with --temperature > 0.")
  boolean greedy;

  @Option(names = "--temperature", description = "0 is greedy (default: ${DEFAULT-VALUE}).")
  float temperature = 0f;

  @Option(names = "--top-p", description = "Nucleus mass in (0, 1] (default: ${DEFAULT-VALUE}).")
  float topP = 1f;

  @Option(names = "--top-k", description = "0 disables (default: ${DEFAULT-VALUE}).")
  int topK = 0;

  @Option(names = "--repetition-penalty", description = "1 disables (default: ${DEFAULT-VALUE}).")
  float repetitionPenalty = 1f;

  @Option(names = "--seed", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
  long seed = 0L;

  @Option(names = "--prefill-chunk", description = "Prompt tokens per prefill step (default: ${DEFAULT-VALUE}).")
  int prefillChunk = 512;

  @Option(names = "--cpu-threads", description = "PyTorch intra-op threads (default: ${DEFAULT-VALUE}).")
  int cpuThreads = 1;

  @Option(names = "--fix-width-input", description = "Use <WIDTH-INPUT> values (the release ignores them).")
  boolean fixWidthInput;

  @Option(names = "--json", description = "Print one JSON object instead of text.")
  boolean json;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Task parsedTask;
    SamplingParams sampling;
    try {
      parsedTask = parseTask(task);
      sampling = sampling();
      checkFlags();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    long t0 = System.nanoTime();
    Path dir;
    try {
      dir = modelDir != null ? modelDir : DemoCheckpoint.ensure(DemoCheckpoint.defaultCacheRoot());
    } catch (IOException e) {
      err.println("error: cannot write the demo checkpoint: " + e.getMessage());
      return EXIT_FAILED;
    }
    try (LlavaSt model = LlavaSt.open(dir)) {
      ObjectNode result = run(model, parsedTask, sampling, t0);
      if (json) {
        out.println(JSON.writeValueAsString(result));
      } else {
        out.println(result.get("text_rendered").asText());
        String coords = result.get("coordinates_rendered").asText();
        if (!coords.isEmpty()) {
          out.println("coordinates: " + coords);
        }
      }
      out.flush();
      return 0;
    } catch (MediaException e) {
      err.println("error: bad media (" + e.reason() + "): " + e.getMessage());
      return EXIT_BAD_INPUT;
    } catch (PromptFormatException e) {
      err.println("error: bad prompt: " + e.getMessage());
      return EXIT_BAD_INPUT;
    } catch (BadInput e) {
      err.println("error: " + e.getMessage());
      return EXIT_BAD_INPUT;
    } catch (CheckpointException | IOException e) {
      err.println("error: cannot open the checkpoint in " + dir + ": " + e.getMessage());
      return EXIT_FAILED;
    } catch (RuntimeException e) {
      err.println("error: generation failed: " + e);
      return EXIT_FAILED;
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

  /** The user's input cannot be used (not media or prompt syntax: e.g. a frame count that does not fit). */
  static final class BadInput extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadInput(String message) {
      super(message);
    }
  }

  private ObjectNode run(LlavaSt model, Task parsedTask, SamplingParams sampling, long t0) throws IOException {
    ModelConfig cfg = model.config();
    long tMedia = System.nanoTime();
    ImagePreprocessor.Prepared prepared = prepareMedia(cfg);
    long tLoad = System.nanoTime();
    ChatTemplate.Media kind = prepared.pixels().video() ? ChatTemplate.Media.VIDEO : ChatTemplate.Media.IMAGE;
    RenderedPrompt rendered = model.chatTemplate().render(systemPrompt, kind, List.of(), prompt);
    try (LlavaStModel exec = model.newExecutor(Device.cpu(), fixWidthInput, cpuThreads)) {
      long tEncode = System.nanoTime();
      MediaFeatures features = exec.encode(prepared.pixels());
      long tPrefill = System.nanoTime();
      PromptInput input = rendered.toPromptInput(features);
      Generation gen = generate(exec, input, sampling, prefillChunk);
      long tEnd = System.nanoTime();

      VideoSampling s = prepared.sampling();
      CoordinateCodec codec = model.codec();
      TimeAxis time = kind == ChatTemplate.Media.VIDEO ? codec.time(s.clipStart(), s.clipEnd(), s.info().fps()) : null;
      SpaceAxis space = codec.space(s.info().width(), s.info().height());
      List<Piece> pieces = parse(model, gen.ids(), time, space);

      ObjectNode root = JsonNodeFactory.instance.objectNode();
      String text = model.tokenizer().decode(gen.ids());
      root.put("text", text);
      root.set("token_ids", ints(gen.ids()));
      root.put("finish_reason", gen.stopId() >= 0 ? "stop" : "length");
      if (gen.stopId() >= 0) {
        root.put("stop_token_id", gen.stopId());
      } else {
        root.putNull("stop_token_id");
      }
      ArrayNode lp = root.putArray("logprobs");
      for (float f : gen.logprobs()) {
        number(lp, f);
      }
      root.set("coordinates", coordinatesJson(pieces));
      root.put("text_rendered", CoordinateFormat.render(pieces));
      root.put("coordinates_rendered", renderGroups(pieces));
      root.set("result", resultJson(TaskResult.of(parsedTask, pieces)));
      root.set("media", mediaJson(prepared, kind));
      ObjectNode p = root.putObject("prompt");
      p.put("text", prompt);
      p.put("system_prompt", systemPrompt == null || systemPrompt.isEmpty() ? ChatTemplate.DEFAULT_SYSTEM_PROMPT
          : systemPrompt);
      p.put("media_start", rendered.mediaStart());
      p.put("visual_start", rendered.visualStart());
      p.put("visual_length", rendered.visualLength());
      ArrayNode values = p.putArray("value_tokens");
      for (PromptInput.ValueToken v : rendered.valueTokens()) {
        ObjectNode o = values.addObject();
        o.put("position", v.position());
        o.put("token_id", rendered.tokenIds()[v.position()]);
        number(o, "value", v.value());
      }
      p.set("token_ids", ints(rendered.tokenIds()));
      ObjectNode sm = root.putObject("sampling");
      sm.put("greedy", sampling.isGreedy());
      number(sm, "temperature", sampling.temperature());
      number(sm, "top_p", sampling.topP());
      sm.put("top_k", sampling.topK());
      number(sm, "repetition_penalty", sampling.repetitionPenalty());
      sm.put("seed", sampling.seed());
      sm.put("max_new_tokens", sampling.maxNewTokens());
      sm.set("stop_token_ids", ints(sampling.stopTokenIds()));
      ObjectNode m = root.putObject("model");
      m.put("dir", model.directory().toAbsolutePath().toString());
      m.put("device", "cpu");
      m.put("dtype", exec.computeDtype().toString().toLowerCase(Locale.ROOT));
      m.put("cpu_threads", cpuThreads);
      m.put("fix_width_input", fixWidthInput);
      m.put("vocab_size", cfg.vocabSize());
      m.put("extended_vocab_size", cfg.extendedVocabSize());
      m.put("hidden_size", cfg.hiddenSize());
      m.put("num_hidden_layers", cfg.numHiddenLayers());
      ObjectNode u = root.putObject("usage");
      u.put("prompt_tokens", input.length());
      u.put("visual_tokens", features.tokenCount());
      u.put("generated_tokens", gen.ids().length);
      u.put("sampled_tokens", gen.ids().length + (gen.stopId() >= 0 ? 1 : 0));
      u.put("prefill_steps", gen.prefillSteps());
      u.put("decode_steps", gen.decodeSteps());
      ObjectNode t = root.putObject("timings");
      t.put("decode_media_s", seconds(tLoad - tMedia));
      t.put("load_model_s", seconds(tEncode - tLoad));
      t.put("encode_s", seconds(tPrefill - tEncode));
      t.put("prefill_s", seconds(gen.firstTokenNanos() - tPrefill));
      t.put("decode_s", seconds(tEnd - gen.firstTokenNanos()));
      t.put("total_s", seconds(tEnd - t0));
      return root;
    }
  }

  // ------------------------------------------------------------------------------------ media

  private ImagePreprocessor.Prepared prepareMedia(ModelConfig cfg) {
    int size = cfg.vision().imageSize();
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    ImagePreprocessor pre = new ImagePreprocessor(size, 8);
    ClipRange clip = clipStart == null && clipEnd == null ? null
        : ClipRange.seconds(clipStart == null ? 0.0 : clipStart, clipEnd == null ? Double.MAX_VALUE / 4 : clipEnd);
    int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread th = new Thread(r, "generate-media-" + n.incrementAndGet());
      th.setDaemon(true);
      return th;
    });
    try {
      if (media.video != null) {
        String key = MediaKeys.of(media.video,
            new MediaKeys.Params(DecodedMedia.Kind.VIDEO, cfg.numFrames(), size, clip, PACKER_VERSION));
        return pre.prepareVideo(decoder, media.video, cfg.numFrames(), clip, key, pool);
      }
      if (media.image != null) {
        DecodedMedia img = decoder.decodeImage(media.image);
        String key = MediaKeys.of(media.image, new MediaKeys.Params(DecodedMedia.Kind.IMAGE, 1, size, null,
            PACKER_VERSION));
        return pre.prepare(img, key, pool);
      }
      List<RgbImage> frames = readFrames(decoder, media.framesDir);
      DecodedMedia decoded;
      if (clip != null) {
        decoded = decoder.sampleFrames(frames, fps, cfg.numFrames(), clip);
      } else {
        if (frames.size() != cfg.numFrames()) {
          throw new MediaException(MediaException.Reason.INVALID_FRAMES, media.framesDir + " holds " + frames.size()
              + " frames; frames are used as given and the model takes exactly " + cfg.numFrames()
              + " (or pass --clip-start/--clip-end to sample them)");
        }
        decoded = decoder.fromFrames(frames, fps);
      }
      String key = MediaKeys.ofFrames(frames, fps, new MediaKeys.Params(DecodedMedia.Kind.FRAMES, cfg.numFrames(),
          size, clip, PACKER_VERSION));
      return pre.prepare(decoded, key, pool);
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<RgbImage> readFrames(MediaDecoder decoder, Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new BadInput("--frames-dir " + dir + " is not a directory");
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw new BadInput("cannot list --frames-dir " + dir + ": " + e.getMessage());
    }
    if (files.isEmpty()) {
      throw new MediaException(MediaException.Reason.EMPTY, "--frames-dir " + dir + " holds no files");
    }
    List<RgbImage> frames = new ArrayList<>(files.size());
    for (Path f : files) {
      try {
        frames.add(decoder.decodeImage(f).frames().get(0));
      } catch (MediaException e) {
        throw new MediaException(e.reason(), "frame " + f.getFileName() + ": " + e.getMessage(), e);
      }
    }
    return frames;
  }

  // --------------------------------------------------------------------------------- generation

  /**
   * What one generation produced.
   *
   * @param ids generated ids, the stop token excluded
   * @param stopId the stop token sampled, or -1 when {@code maxNewTokens} ended the answer
   * @param logprobs log-probability of every sampled id (the stop token's last when there is one)
   * @param firstTokenNanos {@link System#nanoTime()} when the first token was sampled
   */
  record Generation(int[] ids, int stopId, float[] logprobs, long firstTokenNanos, int prefillSteps,
      int decodeSteps) {}

  /**
   * Prefills {@code prompt} in chunks of {@code chunk} positions, then samples up to
   * {@code sampling.maxNewTokens()} tokens, one step each, for a single sequence whose logical block
   * {@code i} is physical block {@code i}. Allocates the executor's KV pool (exactly the blocks needed).
   * Called on the thread that owns {@code exec}.
   */
  static Generation generate(LlavaStModel exec, PromptInput prompt, SamplingParams sampling, int chunk) {
    if (chunk <= 0) {
      throw new IllegalArgumentException("prefill chunk must be positive, got " + chunk);
    }
    int len = prompt.length();
    int max = sampling.maxNewTokens();
    int[] blocks = new int[(len + max + BLOCK_SIZE - 1) / BLOCK_SIZE];
    Arrays.setAll(blocks, i -> i);
    exec.allocateKvCache(blocks.length, BLOCK_SIZE);
    int[] out = new int[max];
    float[] lps = new float[max + 1];
    int count = 0;
    int pos = 0;
    int next = -1;
    int prefillSteps = 0;
    while (pos < len) {
      int n = Math.min(chunk, len - pos);
      boolean last = pos + n == len;
      StepResult r = exec.step(new StepPlan(BLOCK_SIZE, List.of(new SequenceStep(1, prompt,
          Arrays.copyOfRange(prompt.tokenIds(), pos, pos + n), pos, blocks, last, sampling, new int[0]))));
      prefillSteps++;
      pos += n;
      if (last) {
        next = r.tokenIds()[0];
        lps[0] = r.logprobs() == null ? Float.NaN : r.logprobs()[0];
      }
    }
    long firstToken = System.nanoTime();
    int decodeSteps = 0;
    boolean stopped = false;
    while (true) {
      if (sampling.isStopToken(next)) {
        stopped = true;
        break;
      }
      out[count++] = next;
      if (count == max) {
        break;
      }
      StepResult r = exec.step(new StepPlan(BLOCK_SIZE, List.of(new SequenceStep(1, prompt, new int[] {next}, pos,
          blocks, true, sampling, Arrays.copyOf(out, count)))));
      decodeSteps++;
      pos++;
      next = r.tokenIds()[0];
      lps[count] = r.logprobs() == null ? Float.NaN : r.logprobs()[0];
    }
    int stopId = stopped ? next : -1;
    int sampled = count + (stopped ? 1 : 0);
    return new Generation(Arrays.copyOf(out, count), stopId, Arrays.copyOf(lps, sampled), firstToken, prefillSteps,
        decodeSteps);
  }

  // ------------------------------------------------------------------------------------ answers

  /**
   * The pieces of a whole answer: ordinary tokens' text goes to the parser as detokenized text, each
   * coordinate id as a bin (text pending before it is flushed first, so the order is kept).
   */
  static List<Piece> parse(LlavaSt model, int[] ids, TimeAxis time, SpaceAxis space) {
    CoordinateCodec codec = model.codec();
    CoordinateStreamParser parser = codec.parser(time, space);
    StreamDecoder text = model.tokenizer().newStreamDecoder();
    List<Piece> pieces = new ArrayList<>();
    for (int id : ids) {
      if (codec.isBin(id)) {
        pieces.addAll(parser.onText(text.finish()));
        pieces.addAll(parser.onBin(id));
      } else {
        pieces.addAll(parser.onText(text.push(id)));
      }
    }
    pieces.addAll(parser.onText(text.finish()));
    pieces.addAll(parser.finish());
    return pieces;
  }

  /** Every non-text piece, in answer order, as JSON. */
  static ArrayNode coordinatesJson(List<? extends Piece> pieces) {
    ArrayNode arr = JsonNodeFactory.instance.arrayNode();
    for (Piece p : pieces) {
      if (p instanceof Piece.Text) {
        continue;
      }
      ObjectNode o = arr.addObject();
      if (p instanceof Timestamp ts) {
        o.put("type", "timestamp");
        timestampInto(o, ts);
      } else if (p instanceof Span s) {
        o.put("type", "span");
        timestampInto(o.putObject("start"), s.start());
        timestampInto(o.putObject("end"), s.end());
      } else if (p instanceof Box b) {
        o.put("type", "box");
        boxInto(o, b);
      } else if (p instanceof TimedBox tb) {
        o.put("type", "timed_box");
        timestampInto(o.putObject("time"), tb.time());
        boxInto(o.putObject("box"), tb.box());
      } else if (p instanceof Piece.Bin bin) {
        o.put("type", "bin");
        o.put("axis", bin.axis().name().toLowerCase(Locale.ROOT));
        o.put("bin", bin.bin());
        number(o, "normalized", bin.normalized());
      }
      o.put("rendered", CoordinateFormat.render(p));
    }
    return arr;
  }

  private static void timestampInto(ObjectNode o, Timestamp ts) {
    o.put("bin", ts.bin());
    number(o, "normalized", ts.normalized());
    if (ts.frame() >= 0) {
      o.put("frame", ts.frame());
    } else {
      o.putNull("frame");
    }
    number(o, "seconds", ts.seconds());
  }

  private static void boxInto(ObjectNode o, Box b) {
    ArrayNode bins = o.putArray("bins");
    ArrayNode norm = o.putArray("normalized");
    ArrayNode px = o.putArray("pixels");
    for (Coordinate c : new Coordinate[] {b.x1(), b.y1(), b.x2(), b.y2()}) {
      bins.add(c.bin());
      number(norm, c.normalized());
      number(px, c.pixels());
    }
  }

  private static ObjectNode resultJson(TaskResult r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("task", r.task().name());
    o.put("text", r.text());
    o.set("span", r.span() == null ? null : coordinatesJson(List.of(r.span())).get(0));
    o.set("end_time", r.endTime() == null ? null : coordinatesJson(List.of(r.endTime())).get(0));
    o.set("box", r.box() == null ? null : coordinatesJson(List.of(r.box())).get(0));
    o.set("timed_boxes", coordinatesJson(r.timedBoxes()));
    o.set("boxes", coordinatesJson(r.boxes()));
    o.set("spans", coordinatesJson(r.spans()));
    if (r.caption() == null) {
      o.putNull("caption");
    } else {
      o.put("caption", r.caption());
    }
    return o;
  }

  private static String renderGroups(List<Piece> pieces) {
    List<String> groups = new ArrayList<>();
    for (Piece p : pieces) {
      if (!(p instanceof Piece.Text)) {
        groups.add(CoordinateFormat.render(p));
      }
    }
    return String.join("; ", groups);
  }

  private ObjectNode mediaJson(ImagePreprocessor.Prepared prepared, ChatTemplate.Media kind) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    VideoSampling s = prepared.sampling();
    o.put("kind", prepared.kind().name().toLowerCase(Locale.ROOT));
    o.put("path", (media.video != null ? media.video : media.image != null ? media.image : media.framesDir)
        .toAbsolutePath().toString());
    o.put("media_key", prepared.pixels().mediaKey());
    o.put("width", s.info().width());
    o.put("height", s.info().height());
    if (kind == ChatTemplate.Media.VIDEO) {
      number(o, "fps", s.info().fps());
      number(o, "duration_s", s.info().durationSeconds());
      o.put("frame_count", s.info().frameCount());
      o.put("clip_start_frame", s.clipStart());
      o.put("clip_end_frame", s.clipEnd());
    }
    o.put("model_frames", prepared.pixels().frames());
    o.set("sampled_frames", ints(s.sampledIndices()));
    return o;
  }

  // ------------------------------------------------------------------------------------ helpers

  private SamplingParams sampling() {
    if (maxNewTokens <= 0) {
      throw new IllegalArgumentException("--max-new-tokens must be > 0, got " + maxNewTokens);
    }
    return new SamplingParams(temperature, topP, topK, repetitionPenalty, seed, maxNewTokens, null, true);
  }

  private void checkFlags() {
    if (greedy && temperature > 0f) {
      throw new IllegalArgumentException("--greedy contradicts --temperature " + temperature);
    }
    if (!(fps > 0) || !Double.isFinite(fps)) {
      throw new IllegalArgumentException("--fps must be a positive number, got " + fps);
    }
    if (media.image != null && (clipStart != null || clipEnd != null)) {
      throw new IllegalArgumentException("--clip-start/--clip-end apply to --video and --frames-dir, not --image");
    }
    if (prefillChunk <= 0) {
      throw new IllegalArgumentException("--prefill-chunk must be > 0, got " + prefillChunk);
    }
    if (cpuThreads < 0) {
      throw new IllegalArgumentException("--cpu-threads must be >= 0, got " + cpuThreads);
    }
  }

  static Task parseTask(String name) {
    try {
      return Task.valueOf(name.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--task " + name + " is not one of " + Arrays.toString(Task.values()));
    }
  }

  private static ArrayNode ints(int[] values) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode(values.length);
    for (int v : values) {
      a.add(v);
    }
    return a;
  }

  /** Finite numbers as numbers, NaN and infinities as null (JSON has neither). */
  private static void number(ObjectNode o, String field, double v) {
    if (Double.isFinite(v)) {
      o.put(field, v);
    } else {
      o.putNull(field);
    }
  }

  private static void number(ArrayNode a, double v) {
    if (Double.isFinite(v)) {
      a.add(v);
    } else {
      a.addNull();
    }
  }

  private static double seconds(long nanos) {
    return Math.round(nanos / 1e3) / 1e6;
  }
}

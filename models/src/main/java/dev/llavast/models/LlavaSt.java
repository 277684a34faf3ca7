package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.sampling.CoordinateGrammar;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.SpecialTokens;
import dev.llavast.models.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * One LLaVA-ST checkpoint opened from the official layout: its config, tokenizer, chat template,
 * coordinate codec and weights, from which device executors are made ({@link #newExecutor}).
 *
 * <p>{@link #open} validates the checkpoint against its config and the tokenizer's invariants (spec
 * §7.1) and fails with every problem listed. The getters are thread-safe; {@link #newExecutor} may
 * be called from any thread, typically once per device, before serving. {@link #close()} releases
 * the tokenizer and the checkpoint's file handles; executors made from it keep their own copies of
 * the weights and are closed by their owner (the scheduler's worker).
 */
public final class LlavaSt implements AutoCloseable {
  private final Path dir;
  private final ModelConfig config;
  private final GenerationConfig generationConfig;
  private final Checkpoint checkpoint;
  private final Tokenizer tokenizer;
  private final ChatTemplate chatTemplate;
  private final CoordinateCodec codec;
  private @Nullable CoordinateGrammar grammar; // guarded by this

  private LlavaSt(
      Path dir,
      ModelConfig config,
      GenerationConfig generationConfig,
      Checkpoint checkpoint,
      Tokenizer tokenizer) {
    this.dir = dir;
    this.config = config;
    this.generationConfig = generationConfig;
    this.checkpoint = checkpoint;
    this.tokenizer = tokenizer;
    this.chatTemplate = new ChatTemplate(tokenizer, config);
    this.codec = new CoordinateCodec(config.firstBinId(), config.numCoordinateBins());
  }

  /**
   * Opens and validates the checkpoint in {@code dir}.
   *
   * @throws IOException if a file cannot be read
   * @throws CheckpointException listing every missing or mis-shaped tensor
   * @throws IllegalArgumentException if the config or tokenizer is inconsistent
   */
  public static LlavaSt open(Path dir) throws IOException {
    Objects.requireNonNull(dir, "dir");
    ModelConfig config = ModelConfigs.readDirectory(dir);
    GenerationConfig gen = ModelConfigs.readGenerationConfig(dir);
    Checkpoint checkpoint = Checkpoint.open(dir);
    Tokenizer tokenizer = null;
    try {
      checkpoint.validate(config);
      tokenizer = Tokenizer.load(dir, config);
      return new LlavaSt(dir, config, gen, checkpoint, tokenizer);
    } catch (IOException | RuntimeException e) {
      if (tokenizer != null) {
        tokenizer.close();
      }
      try {
        checkpoint.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /**
   * Loads the weights onto {@code device} and returns an executor the caller owns (it closes it).
   *
   * @param fixWidthInput false reproduces the release's ignored {@code <WIDTH-INPUT>} value
   * @param cpuThreads PyTorch intra-op threads on CPU (0 keeps the engine default)
   */
  public LlavaStModel newExecutor(Device device, boolean fixWidthInput, int cpuThreads) {
    return newExecutor(device, fixWidthInput, cpuThreads, null);
  }

  /**
   * As {@link #newExecutor(Device, boolean, int)}, with {@code --attention-fp32}: whether fp16
   * attention scores are computed in fp32 (null: the default, on for fp16). Decode grouping and
   * sampling follow the device ({@link LlavaStModel.Options}).
   */
  public LlavaStModel newExecutor(
      Device device, boolean fixWidthInput, int cpuThreads, @Nullable Boolean attentionFp32) {
    SpecialTokens s = tokenizer.specialTokens();
    LlavaStModel.ValueTokenIds ids =
        new LlavaStModel.ValueTokenIds(
            s.tempInput(),
            s.tempOutput(),
            s.heightInput(),
            s.heightOutput(),
            s.widthInput(),
            s.widthOutput());
    LlavaStModel.Options defaults = LlavaStModel.Options.defaults(ids);
    int chunkFrames = device.isGpu() ? defaults.visionChunkFrames() : CPU_VISION_CHUNK_FRAMES;
    return new LlavaStModel(
        config,
        checkpoint,
        device,
        new LlavaStModel.Options(
                ids, fixWidthInput, chunkFrames, defaults.computeDtype(), cpuThreads, grammar())
            .withAttentionFp32(attentionFp32));
  }

  /**
   * Loads one executor per device, all at once: each device's weights are read on its own thread
   * from the one memory-mapped checkpoint (reads are thread-safe and each maps its own windows), so
   * two GPUs load in about the time of one. If any load fails, the executors already loaded are
   * closed and the first failure is thrown (the others are suppressed in it). Any thread; blocks
   * until every load has ended.
   *
   * @param cpuThreads as {@link #newExecutor(Device, boolean, int)}, for every device
   * @return the executors in {@code devices} order, owned by the caller
   */
  public List<LlavaStModel> newExecutors(
      List<Device> devices,
      boolean fixWidthInput,
      int cpuThreads,
      @Nullable Boolean attentionFp32) {
    List<CompletableFuture<LlavaStModel>> loads = new ArrayList<>();
    for (Device d : devices) {
      CompletableFuture<LlavaStModel> f = new CompletableFuture<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  f.complete(newExecutor(d, fixWidthInput, cpuThreads, attentionFp32));
                } catch (Throwable e) { // handed to the caller
                  f.completeExceptionally(e);
                }
              },
              "llavast-load-" + d);
      t.setDaemon(true);
      t.start();
      loads.add(f);
    }
    List<LlavaStModel> out = new ArrayList<>();
    RuntimeException failure = null;
    for (CompletableFuture<LlavaStModel> f : loads) {
      try {
        out.add(f.join());
      } catch (CompletionException e) {
        RuntimeException cause =
            e.getCause() instanceof RuntimeException re
                ? re
                : new IllegalStateException("loading an executor failed", e.getCause());
        if (failure == null) {
          failure = cause;
        } else {
          failure.addSuppressed(cause);
        }
      }
    }
    if (failure != null) {
      for (LlavaStModel m : out) {
        m.close();
      }
      throw failure;
    }
    return out;
  }

  /**
   * Frames per SigLIP chunk on CPU. A 10-frame chunk's MLP activations ({@code [10·729, I]}) are
   * large enough that every allocation is a fresh mapping to fault in; with 2 frames they are
   * reused (SMALL, 100 frames, one thread: encode 10.5 s -> 8.2 s, the tanh-GELU alone 1.7 s ->
   * 0.16 s).
   */
  static final int CPU_VISION_CHUNK_FRAMES = 2;

  /**
   * The tokenizer's coordinate grammar (for constrained decoding), built on first use. Any thread.
   */
  public synchronized CoordinateGrammar grammar() {
    if (grammar == null) {
      grammar = CoordinateGrammar.of(tokenizer::tokenText, tokenizer.specialTokens());
    }
    return grammar;
  }

  /**
   * The ids that end an answer: {@code <|im_end|>} (the reference's stop token) plus any EOS ids of
   * {@code generation_config.json}.
   */
  public int[] stopTokenIds() {
    Set<Integer> ids = new LinkedHashSet<>();
    ids.add(tokenizer.specialTokens().imEnd());
    ids.addAll(generationConfig.eosTokenIds());
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  public Path directory() {
    return dir;
  }

  public ModelConfig config() {
    return config;
  }

  public GenerationConfig generationConfig() {
    return generationConfig;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  public SpecialTokens specialTokens() {
    return tokenizer.specialTokens();
  }

  public ChatTemplate chatTemplate() {
    return chatTemplate;
  }

  public CoordinateCodec codec() {
    return codec;
  }

  @Override
  public void close() throws IOException {
    tokenizer.close();
    checkpoint.close();
  }
}

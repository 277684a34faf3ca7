package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.sampling.CoordinateGrammar;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.SpecialTokens;
import dev.llavast.models.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

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
  private CoordinateGrammar grammar; // guarded by this

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
      Device device, boolean fixWidthInput, int cpuThreads, Boolean attentionFp32) {
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

package dev.llavast.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.llavast.models.tokenizer.SpecialTokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;

/**
 * Writes random-weight LLaVA-ST checkpoints in exactly the official layout (spec §11): the tensor
 * names and shapes of {@link CheckpointLayout} (plus the optional extras the release carries:
 * {@code model.image_newline}, SigLIP's {@code post_layernorm}, the fast packer), {@code
 * config.json} with the official keys and the override keys {@link ModelConfigs} reads, {@code
 * generation_config.json}, and a small byte-level BPE {@code tokenizer.json} (+ {@code
 * tokenizer_config.json}) with the ChatML tokens, the 14 marker/value tokens (ids up to V - 1) and
 * the 300 bin tokens at V .. V + 299.
 *
 * <p>Only widths and depths shrink: 384 px, patch 14 (27 x 27), 100 frames and 100 bins are kept.
 * Weights are normal(0, 0.02); norm weights 1 + normal(0, 0.02), so activations stay finite while a
 * forgotten norm weight still shows. Output is a pure function of (preset, seed, options): the same
 * arguments give byte-identical files. Stateless; any thread (distinct directories).
 */
public final class TinyCheckpoints {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** BPE merges of the tiny tokenizer (on GPT-2 byte symbols; 'Ġ' is a space). */
  private static final String[] MERGES = {
    "Ġ t",
    "h e",
    "Ġ a",
    "i n",
    "e r",
    "o u",
    "a n",
    "r e",
    "o n",
    "Ġt he",
    "Ġ w",
    "Ġ s",
    "e n",
    "a t",
    "Ġ i",
    "s t",
    "Ġ o",
    "Ġ c",
    "i s",
    "Ġa re",
    "Ġw h",
    "e d",
    "i t",
    "o r",
    "Ġ he",
    "Ġ h",
    "l l",
    "Ġ f",
    "Ġ b",
    "Ġ p",
    "Ġ m",
    "e s",
    "a s",
    "in g",
    "Ġ d",
    "a l",
    "a r",
    "Ġ y",
    "Ġy ou",
    "Ġ l",
    "Ġ n",
    "i d",
    "e o",
    "Ġ v",
    "Ġv id",
    "Ġvid eo",
    "Ġ in",
    "Ġt h",
    "Ġth is",
    "Ġhe l",
    "p f",
    "Ġhel pf",
    "u l",
    "Ġhelpf ul",
    "Ġ as",
    "s is",
    "Ġas sis",
    "t an",
    "Ġassis tan",
    "Ġassistan t",
    "Ġ Y",
    "Y ou",
    "s y",
    "sy st",
    "e m",
    "syst em",
    "u s",
    "us er",
    "as s",
    "ass is",
    "assis tan",
    "assistan t"
  };

  /** Model sizes. */
  public enum Preset {
    /**
     * Unit tests: seconds on CPU. LLM 64 wide, 2 layers, 4/2 heads; vision 32 wide, 2 layers; STP
     * 32/4.
     */
    TINY(64, 2, 4, 2, 128, 32, 64, 2, 2, 32, 4, 0),
    /**
     * Benchmarks: matrix work dominates. LLM 512 wide, 4 layers, 8/2 heads, V 8192; vision 128
     * wide, 3 layers.
     */
    SMALL(512, 4, 8, 2, 1408, 128, 512, 3, 4, 128, 4, 8192);

    final int hidden;
    final int layers;
    final int heads;
    final int kvHeads;
    final int intermediate;
    final int visionHidden;
    final int visionIntermediate;
    final int visionLayers;
    final int visionHeads;
    final int stpDim;
    final int stpHeads;
    final int vocabTarget; // 0: the BPE vocabulary as it is; else pad so that V equals this

    Preset(
        int hidden,
        int layers,
        int heads,
        int kvHeads,
        int intermediate,
        int visionHidden,
        int visionIntermediate,
        int visionLayers,
        int visionHeads,
        int stpDim,
        int stpHeads,
        int vocabTarget) {
      this.hidden = hidden;
      this.layers = layers;
      this.heads = heads;
      this.kvHeads = kvHeads;
      this.intermediate = intermediate;
      this.visionHidden = visionHidden;
      this.visionIntermediate = visionIntermediate;
      this.visionLayers = visionLayers;
      this.visionHeads = visionHeads;
      this.stpDim = stpDim;
      this.stpHeads = stpHeads;
      this.vocabTarget = vocabTarget;
    }

    /** The config this preset writes (torch_dtype float32). */
    public ModelConfig config() {
      return config(StoredDtype.F32);
    }

    ModelConfig config(StoredDtype dtype) {
      return new ModelConfig(
          hidden,
          layers,
          heads,
          kvHeads,
          intermediate,
          1e-6,
          1_000_000.0,
          vocabSize(),
          32768,
          false,
          visionHidden,
          new ModelConfig.VisionConfig(
              visionHidden, visionIntermediate, visionLayers, visionHeads, 384, 14, 1e-6),
          stpDim,
          stpHeads,
          100,
          100,
          dtype.torchName());
    }

    /** V: BPE vocabulary + 3 ChatML tokens + 14 markers. */
    public int vocabSize() {
      return vocabTarget > 0 ? vocabTarget : 256 + MERGES.length + 3 + SpecialTokens.MARKERS.size();
    }
  }

  /**
   * How to store the weights.
   *
   * @param dtype stored element type
   * @param shards 1: {@code model.safetensors}; more: {@code model-0000X-of-0000N.safetensors} +
   *     index
   * @param optionalTensors also write the release's unused extras (image_newline, post_layernorm,
   *     fast packer)
   */
  public record Options(StoredDtype dtype, int shards, boolean optionalTensors) {
    /** F32, one file, with the optional extras. */
    public static final Options DEFAULT = new Options(StoredDtype.F32, 1, true);

    public Options {
      Objects.requireNonNull(dtype, "dtype");
      if (shards < 1) {
        throw new IllegalArgumentException("shards must be >= 1, got " + shards);
      }
    }
  }

  private TinyCheckpoints() {}

  /** Writes {@code preset} with {@link Options#DEFAULT} into {@code dir} (created if needed). */
  public static ModelConfig write(Path dir, Preset preset, long seed) throws IOException {
    return write(dir, preset, seed, Options.DEFAULT);
  }

  /** Writes {@code preset} into {@code dir} (created if needed); returns the config written. */
  public static ModelConfig write(Path dir, Preset preset, long seed, Options options)
      throws IOException {
    Files.createDirectories(dir);
    ModelConfig config = preset.config(options.dtype());
    List<TensorSpec> specs = new ArrayList<>(CheckpointLayout.requiredTensors(config));
    if (options.optionalTensors()) {
      specs.addAll(CheckpointLayout.optionalTensors(config));
    }
    List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
    for (TensorSpec s : specs) {
      tensors.add(
          new SafetensorsWriter.Tensor(
              s.name(), options.dtype(), s.shape().getShape(), init(s, seed)));
    }
    writeWeights(dir, tensors, options.shards());
    writeTokenizer(dir, preset.vocabSize());
    JSON.writeValue(dir.resolve(ModelConfigs.CONFIG_FILE).toFile(), configJson(config));
    JSON.writeValue(
        dir.resolve(ModelConfigs.GENERATION_CONFIG_FILE).toFile(),
        generationJson(preset.vocabSize()));
    return config;
  }

  /**
   * Writes a random-weight checkpoint of any dimensions (e.g. the release's, with fewer layers):
   * {@code config}'s tensors, tokenizer (padded to its V) and config files. Values are drawn per
   * element from a hash of ({@code seed}, name, index), so no tensor is ever whole in memory (a
   * 7B-wide embedding is 2 GB of floats): norms near 1, everything else uniform with standard
   * deviation 0.02.
   *
   * @throws IllegalArgumentException if V is below the tokenizer's own vocabulary
   */
  public static void writeShaped(Path dir, ModelConfig config, long seed, Options options)
      throws IOException {
    Files.createDirectories(dir);
    int minimum = 256 + MERGES.length + 3 + SpecialTokens.MARKERS.size();
    if (config.vocabSize() < minimum) {
      throw new IllegalArgumentException(
          "vocab_size " + config.vocabSize() + " is below the tokenizer's " + minimum);
    }
    List<TensorSpec> specs = new ArrayList<>(CheckpointLayout.requiredTensors(config));
    if (options.optionalTensors()) {
      specs.addAll(CheckpointLayout.optionalTensors(config));
    }
    List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
    for (TensorSpec spec : specs) {
      long salt = seed * 0x9E3779B97F4A7C15L + spec.name().hashCode();
      float base = isNormWeight(spec.name()) ? 1f : 0f;
      // uniform on [-a, a] has standard deviation a / sqrt(3): a = 0.02 sqrt(3)
      float amp = 0.02f * (float) Math.sqrt(3.0) * 2f;
      tensors.add(
          new SafetensorsWriter.Tensor(
              spec.name(),
              options.dtype(),
              spec.shape().getShape(),
              i -> base + amp * (unit(salt, i) - 0.5f)));
    }
    writeWeights(dir, tensors, options.shards());
    writeTokenizer(dir, config.vocabSize());
    JSON.writeValue(dir.resolve(ModelConfigs.CONFIG_FILE).toFile(), configJson(config));
    JSON.writeValue(
        dir.resolve(ModelConfigs.GENERATION_CONFIG_FILE).toFile(),
        generationJson(config.vocabSize()));
  }

  /** A uniform value in [0, 1) from a 64-bit mix of (salt, i). */
  private static float unit(long salt, long i) {
    long z = salt + (i + 1) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z ^= z >>> 31;
    return (z >>> 40) * 0x1.0p-24f;
  }

  private static boolean isNormWeight(String name) {
    return name.endsWith("norm.weight")
        || name.endsWith("layer_norm1.weight")
        || name.endsWith("layer_norm2.weight")
        || name.endsWith("ln_q.weight")
        || name.endsWith("ln_k.weight")
        || name.endsWith("ln_v.weight");
  }

  private static float[] init(TensorSpec spec, long seed) {
    long n = spec.shape().size();
    float[] v = new float[Math.toIntExact(n)];
    Random rnd = new Random(seed * 0x9E3779B97F4A7C15L + spec.name().hashCode());
    String name = spec.name();
    boolean normWeight =
        name.endsWith("norm.weight")
            || name.endsWith("layer_norm1.weight")
            || name.endsWith("layer_norm2.weight")
            || name.endsWith("ln_q.weight")
            || name.endsWith("ln_k.weight")
            || name.endsWith("ln_v.weight");
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) ((normWeight ? 1.0 : 0.0) + 0.02 * rnd.nextGaussian());
    }
    return v;
  }

  private static void writeWeights(Path dir, List<SafetensorsWriter.Tensor> tensors, int shards)
      throws IOException {
    Map<String, String> meta = Map.of("format", "pt");
    if (shards == 1) {
      SafetensorsWriter.write(dir.resolve(Checkpoint.SINGLE_FILE), tensors, meta);
      return;
    }
    if (shards > tensors.size()) {
      throw new IllegalArgumentException(
          "cannot split " + tensors.size() + " tensors into " + shards + " shards");
    }
    long total = 0;
    for (SafetensorsWriter.Tensor t : tensors) {
      total += t.byteLength();
    }
    List<List<SafetensorsWriter.Tensor>> groups = new ArrayList<>();
    List<SafetensorsWriter.Tensor> current = new ArrayList<>();
    long acc = 0;
    for (int i = 0; i < tensors.size(); i++) {
      SafetensorsWriter.Tensor t = tensors.get(i);
      current.add(t);
      acc += t.byteLength();
      int remainingTensors = tensors.size() - i - 1;
      int remainingGroups = shards - groups.size() - 1;
      boolean full = acc >= total * (groups.size() + 1) / shards;
      if (remainingGroups > 0 && (full || remainingTensors == remainingGroups)) {
        groups.add(current);
        current = new ArrayList<>();
      }
    }
    groups.add(current);
    Map<String, String> weightMap = new TreeMap<>();
    for (int g = 0; g < groups.size(); g++) {
      String file =
          String.format(
              java.util.Locale.ROOT, "model-%05d-of-%05d.safetensors", g + 1, groups.size());
      SafetensorsWriter.write(dir.resolve(file), groups.get(g), meta);
      for (SafetensorsWriter.Tensor t : groups.get(g)) {
        weightMap.put(t.name(), file);
      }
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("metadata", Map.of("total_size", total));
    index.put("weight_map", weightMap);
    JSON.writeValue(dir.resolve(Checkpoint.INDEX_FILE).toFile(), index);
  }

  private static void writeTokenizer(Path dir, int vocabSize) throws IOException {
    Map<Character, Integer> u2b = dev.llavast.models.tokenizer.Tokenizer.unicodeToByte();
    char[] byteToChar = new char[256];
    for (Map.Entry<Character, Integer> e : u2b.entrySet()) {
      byteToChar[e.getValue()] = e.getKey();
    }
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (int b = 0; b < 256; b++) {
      vocab.put(String.valueOf(byteToChar[b]), b);
    }
    List<String> merges = new ArrayList<>();
    for (String m : MERGES) {
      String[] parts = m.split(" ");
      if (!vocab.containsKey(parts[0]) || !vocab.containsKey(parts[1])) {
        throw new IllegalStateException(
            "merge '" + m + "' uses a symbol that is not in the vocabulary yet");
      }
      String merged = parts[0] + parts[1];
      if (vocab.containsKey(merged)) {
        throw new IllegalStateException(
            "merge '" + m + "' produces '" + merged + "', which already exists");
      }
      merges.add(m);
      vocab.put(merged, vocab.size());
    }
    int base = vocabSize - 3 - SpecialTokens.MARKERS.size();
    while (vocab.size() < base) {
      vocab.put("<|extra_" + vocab.size() + "|>", vocab.size());
    }
    if (vocab.size() != base) {
      throw new IllegalStateException(
          "BPE vocabulary has " + vocab.size() + " entries, preset expects " + base);
    }
    List<String> added =
        new ArrayList<>(
            List.of(SpecialTokens.END_OF_TEXT, SpecialTokens.IM_START, SpecialTokens.IM_END));
    added.addAll(SpecialTokens.MARKERS);
    for (String axis : new String[] {"TEMP", "HEIGHT", "WIDTH"}) {
      for (int k = 0; k < 100; k++) {
        added.add(SpecialTokens.binToken(axis, k));
      }
    }
    List<Map<String, Object>> addedJson = new ArrayList<>();
    Map<String, Object> decoderJson = new LinkedHashMap<>();
    for (int i = 0; i < added.size(); i++) {
      Map<String, Object> t = new LinkedHashMap<>();
      t.put("id", base + i);
      t.put("content", added.get(i));
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
      addedJson.add(t);
      Map<String, Object> d = new LinkedHashMap<>(t);
      d.remove("id");
      decoderJson.put(String.valueOf(base + i), d);
    }
    Map<String, Object> byteLevel = new LinkedHashMap<>();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", false);
    byteLevel.put("use_regex", false);
    Map<String, Object> pre = new LinkedHashMap<>(byteLevel);
    pre.put("trim_offsets", true);
    pre.put("use_regex", true);
    Map<String, Object> model = new LinkedHashMap<>();
    model.put("type", "BPE");
    model.put("dropout", null);
    model.put("unk_token", null);
    model.put("continuing_subword_prefix", null);
    model.put("end_of_word_suffix", null);
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("vocab", vocab);
    model.put("merges", merges);
    Map<String, Object> tok = new LinkedHashMap<>();
    tok.put("version", "1.0");
    tok.put("truncation", null);
    tok.put("padding", null);
    tok.put("added_tokens", addedJson);
    tok.put("normalizer", Map.of("type", "NFC"));
    tok.put("pre_tokenizer", pre);
    tok.put("post_processor", byteLevel);
    tok.put("decoder", byteLevel);
    tok.put("model", model);
    JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tok);

    Map<String, Object> cfg = new LinkedHashMap<>();
    cfg.put("add_bos_token", false);
    cfg.put("add_prefix_space", false);
    cfg.put("added_tokens_decoder", decoderJson);
    cfg.put("bos_token", null);
    cfg.put("clean_up_tokenization_spaces", false);
    cfg.put("eos_token", SpecialTokens.IM_END);
    cfg.put("errors", "replace");
    cfg.put("model_max_length", 32768);
    cfg.put("pad_token", SpecialTokens.END_OF_TEXT);
    cfg.put("padding_side", "right");
    cfg.put("split_special_tokens", false);
    cfg.put("tokenizer_class", "Qwen2Tokenizer");
    cfg.put("unk_token", null);
    JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);
  }

  private static Map<String, Object> configJson(ModelConfig c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("_name_or_path", "llavast-serve/tiny-random");
    m.put("architectures", List.of("LlavaQwenForCausalLM"));
    m.put("model_type", "llava_qwen");
    m.put("hidden_act", "silu");
    m.put("hidden_size", c.hiddenSize());
    m.put("intermediate_size", c.intermediateSize());
    m.put("num_hidden_layers", c.numHiddenLayers());
    m.put("num_attention_heads", c.numAttentionHeads());
    m.put("num_key_value_heads", c.numKeyValueHeads());
    m.put("rms_norm_eps", c.rmsNormEps());
    m.put("rope_theta", c.ropeTheta());
    m.put("rope_scaling", null);
    m.put("vocab_size", c.vocabSize());
    m.put("max_position_embeddings", c.maxPositionEmbeddings());
    m.put("max_window_layers", c.numHiddenLayers());
    m.put("sliding_window", null);
    m.put("use_sliding_window", false);
    m.put("tie_word_embeddings", c.tieWordEmbeddings());
    m.put("torch_dtype", c.torchDtype());
    m.put("use_cache", true);
    m.put("bos_token_id", c.vocabSize() - SpecialTokens.MARKERS.size() - 3);
    m.put("eos_token_id", c.vocabSize() - SpecialTokens.MARKERS.size() - 1);
    m.put("mm_hidden_size", c.mmHiddenSize());
    m.put("mm_projector_type", "mlp2x_gelu");
    m.put("mm_resampler_type", "fast_slow_resampler");
    int grid = c.vision().gridSize();
    m.put("mm_perceiver_latents", (grid / 3) * (grid / 3));
    m.put("mm_perceiver_latents_fast", 9);
    m.put("mm_vision_tower", "google/siglip-so400m-patch14-384");
    m.put("mm_vision_select_layer", -2);
    m.put("mm_vision_select_feature", "patch");
    m.put("mm_patch_merge_type", "flat");
    m.put("image_aspect_ratio", "pad");
    Map<String, Object> v = new LinkedHashMap<>();
    v.put("hidden_size", c.vision().hiddenSize());
    v.put("intermediate_size", c.vision().intermediateSize());
    v.put("num_hidden_layers", c.vision().numHiddenLayers());
    v.put("num_attention_heads", c.vision().numAttentionHeads());
    v.put("image_size", c.vision().imageSize());
    v.put("patch_size", c.vision().patchSize());
    v.put("layer_norm_eps", c.vision().layerNormEps());
    m.put("vision_config", v);
    m.put("stp_embed_dim", c.stpEmbedDim());
    m.put("stp_num_heads", c.stpNumHeads());
    m.put("num_frames", c.numFrames());
    m.put("num_coordinate_bins", c.numCoordinateBins());
    m.put("transformers_version", "4.40.0");
    return m;
  }

  private static Map<String, Object> generationJson(int vocabSize) {
    int base = vocabSize - SpecialTokens.MARKERS.size() - 3;
    int endOfText = base;
    int imEnd = base + 2;
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("bos_token_id", endOfText);
    m.put("do_sample", true);
    m.put("eos_token_id", List.of(imEnd, endOfText));
    m.put("pad_token_id", endOfText);
    m.put("repetition_penalty", 1.05);
    m.put("temperature", 0.7);
    m.put("top_k", 20);
    m.put("top_p", 0.8);
    m.put("transformers_version", "4.40.0");
    return m;
  }
}

package dev.llavast.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Reads {@code config.json} and {@code generation_config.json} of a LLaVA-ST checkpoint. Stateless;
 * any thread.
 *
 * <p>{@code config.json}: the LLM keys {@code hidden_size}, {@code num_hidden_layers}, {@code
 * num_attention_heads}, {@code intermediate_size} and {@code vocab_size} are required; the other
 * LLM keys default as in HF's {@code Qwen2Config} ({@code num_key_value_heads} = heads, {@code
 * rms_norm_eps} 1e-6, {@code rope_theta} 10000, {@code max_position_embeddings} 32768, {@code
 * tie_word_embeddings} false, {@code torch_dtype} float32). The release does not spell out SigLIP's
 * or the packer's sizes, so these default to the official values and are overridden when present:
 * {@code vision_config} {hidden_size 1152, intermediate_size 4304, num_hidden_layers 26 (layers
 * used), num_attention_heads 16, image_size 384, patch_size 14, layer_norm_eps 1e-6}, {@code
 * mm_hidden_size} (= vision hidden size), {@code stp_embed_dim} 1024, {@code stp_num_heads} 8,
 * {@code num_frames} 100, {@code num_coordinate_bins} 100. Architecture keys, when present, must
 * name what this implementation runs: {@code mm_projector_type} mlp2x_gelu, {@code
 * mm_resampler_type} fast_slow_resampler, {@code mm_perceiver_latents} = (grid/3)^2, {@code
 * mm_perceiver_latents_fast} 9.
 */
public final class ModelConfigs {
  /** The config file name inside a checkpoint directory. */
  public static final String CONFIG_FILE = "config.json";

  /** The generation defaults file name inside a checkpoint directory. */
  public static final String GENERATION_CONFIG_FILE = "generation_config.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private ModelConfigs() {}

  /**
   * Parses {@code configJson}.
   *
   * @throws IOException if unreadable or not JSON
   * @throws IllegalArgumentException listing every missing required key, mistyped value and
   *     unsupported architecture value
   */
  public static ModelConfig read(Path configJson) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(configJson.toFile());
    } catch (IOException e) {
      throw new IOException(configJson + ": not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IOException(configJson + ": not a JSON object");
    }
    return parse(root, configJson.toString());
  }

  /** Parses a {@code config.json} tree; {@code source} names it in error messages. */
  public static ModelConfig parse(JsonNode root, String source) {
    Reader r = new Reader(root, "");
    int hidden = r.requiredInt("hidden_size");
    int layers = r.requiredInt("num_hidden_layers");
    int heads = r.requiredInt("num_attention_heads");
    int inter = r.requiredInt("intermediate_size");
    int vocab = r.requiredInt("vocab_size");
    int kvHeads = r.optInt("num_key_value_heads", heads);
    double eps = r.optDouble("rms_norm_eps", 1e-6);
    double theta = r.optDouble("rope_theta", 10000.0);
    int maxPos = r.optInt("max_position_embeddings", 32768);
    boolean tie = r.optBool("tie_word_embeddings", false);
    String dtype = r.optString("torch_dtype", "float32");

    ModelConfig.VisionConfig off = ModelConfig.VisionConfig.official();
    JsonNode visionNode = root.get("vision_config");
    Reader v =
        new Reader(
            visionNode != null && visionNode.isObject() ? visionNode : JSON.createObjectNode(),
            "vision_config.");
    if (visionNode != null && !visionNode.isObject() && !visionNode.isNull()) {
      r.problems.add("vision_config must be an object, got " + visionNode);
    }
    int vHidden = v.optInt("hidden_size", off.hiddenSize());
    int vInter = v.optInt("intermediate_size", off.intermediateSize());
    int vLayers = v.optInt("num_hidden_layers", off.numHiddenLayers());
    int vHeads = v.optInt("num_attention_heads", off.numAttentionHeads());
    int vImage = v.optInt("image_size", off.imageSize());
    int vPatch = v.optInt("patch_size", off.patchSize());
    double vEps = v.optDouble("layer_norm_eps", off.layerNormEps());
    r.problems.addAll(v.problems);

    int mmHidden = r.optInt("mm_hidden_size", vHidden);
    int stpDim = r.optInt("stp_embed_dim", 1024);
    int stpHeads = r.optInt("stp_num_heads", 8);
    int frames = r.optInt("num_frames", 100);
    int bins = r.optInt("num_coordinate_bins", 100);

    r.expectString("mm_projector_type", "mlp2x_gelu");
    r.expectString("mm_resampler_type", "fast_slow_resampler");
    if (vPatch > 0 && vImage >= vPatch) {
      int grid = vImage / vPatch;
      if (grid % 3 == 0) {
        r.expectInt("mm_perceiver_latents", (grid / 3) * (grid / 3));
      }
    }
    r.expectInt("mm_perceiver_latents_fast", 9);

    if (!r.problems.isEmpty()) {
      throw new IllegalArgumentException(source + ": " + String.join("; ", r.problems));
    }
    try {
      return new ModelConfig(
          hidden,
          layers,
          heads,
          kvHeads,
          inter,
          eps,
          theta,
          vocab,
          maxPos,
          tie,
          mmHidden,
          new ModelConfig.VisionConfig(vHidden, vInter, vLayers, vHeads, vImage, vPatch, vEps),
          stpDim,
          stpHeads,
          frames,
          bins,
          dtype);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
    }
  }

  /** Reads {@code config.json} of checkpoint directory {@code dir}. */
  public static ModelConfig readDirectory(Path dir) throws IOException {
    return read(dir.resolve(CONFIG_FILE));
  }

  /**
   * Reads {@code generation_config.json} in {@code dir}; {@link GenerationConfig#empty()} when the
   * file does not exist.
   */
  public static GenerationConfig readGenerationConfig(Path dir) throws IOException {
    Path file = dir.resolve(GENERATION_CONFIG_FILE);
    if (!Files.isRegularFile(file)) {
      return GenerationConfig.empty();
    }
    JsonNode root = JSON.readTree(file.toFile());
    if (root == null || !root.isObject()) {
      throw new IOException(file + ": not a JSON object");
    }
    Reader r = new Reader(root, "");
    List<Integer> eos = new ArrayList<>();
    JsonNode eosNode = root.get("eos_token_id");
    if (eosNode != null && !eosNode.isNull()) {
      if (eosNode.isArray()) {
        for (JsonNode n : eosNode) {
          if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            r.problems.add("eos_token_id must hold integers, got " + eosNode);
          } else {
            eos.add(n.intValue());
          }
        }
      } else if (eosNode.isIntegralNumber()) {
        eos.add(eosNode.intValue());
      } else {
        r.problems.add("eos_token_id must be an integer or a list of integers, got " + eosNode);
      }
    }
    OptionalInt pad =
        r.has("pad_token_id") ? OptionalInt.of(r.optInt("pad_token_id", 0)) : OptionalInt.empty();
    boolean doSample = r.optBool("do_sample", false);
    OptionalDouble temperature =
        r.has("temperature")
            ? OptionalDouble.of(r.optDouble("temperature", 1))
            : OptionalDouble.empty();
    OptionalInt topK = r.has("top_k") ? OptionalInt.of(r.optInt("top_k", 0)) : OptionalInt.empty();
    OptionalDouble topP =
        r.has("top_p") ? OptionalDouble.of(r.optDouble("top_p", 1)) : OptionalDouble.empty();
    OptionalDouble rep =
        r.has("repetition_penalty")
            ? OptionalDouble.of(r.optDouble("repetition_penalty", 1))
            : OptionalDouble.empty();
    if (!r.problems.isEmpty()) {
      throw new IOException(file + ": " + String.join("; ", r.problems));
    }
    return new GenerationConfig(eos, pad, doSample, temperature, topK, topP, rep);
  }

  /** Typed access to one JSON object, collecting every problem instead of failing at the first. */
  private static final class Reader {
    final JsonNode node;
    final String prefix;
    final List<String> problems = new ArrayList<>();

    Reader(JsonNode node, String prefix) {
      this.node = node;
      this.prefix = prefix;
    }

    boolean has(String key) {
      JsonNode n = node.get(key);
      return n != null && !n.isNull();
    }

    int requiredInt(String key) {
      if (!has(key)) {
        problems.add("required key " + prefix + key + " is missing");
        return 0;
      }
      return optInt(key, 0);
    }

    int optInt(String key, int def) {
      if (!has(key)) {
        return def;
      }
      JsonNode n = node.get(key);
      if (!n.isIntegralNumber() || !n.canConvertToInt()) {
        problems.add(prefix + key + " must be an integer, got " + n);
        return def;
      }
      return n.intValue();
    }

    double optDouble(String key, double def) {
      if (!has(key)) {
        return def;
      }
      JsonNode n = node.get(key);
      if (!n.isNumber()) {
        problems.add(prefix + key + " must be a number, got " + n);
        return def;
      }
      return n.doubleValue();
    }

    boolean optBool(String key, boolean def) {
      if (!has(key)) {
        return def;
      }
      JsonNode n = node.get(key);
      if (!n.isBoolean()) {
        problems.add(prefix + key + " must be true or false, got " + n);
        return def;
      }
      return n.booleanValue();
    }

    String optString(String key, String def) {
      if (!has(key)) {
        return def;
      }
      JsonNode n = node.get(key);
      if (!n.isTextual()) {
        problems.add(prefix + key + " must be a string, got " + n);
        return def;
      }
      return n.textValue();
    }

    void expectString(String key, String expected) {
      if (has(key)) {
        String got = optString(key, expected);
        if (!got.equals(expected)) {
          problems.add(
              prefix
                  + key
                  + " is \""
                  + got
                  + "\"; this implementation supports only \""
                  + expected
                  + "\"");
        }
      }
    }

    void expectInt(String key, int expected) {
      if (has(key)) {
        int got = optInt(key, expected);
        if (got != expected) {
          problems.add(
              prefix + key + " is " + got + "; this implementation supports only " + expected);
        }
      }
    }
  }
}

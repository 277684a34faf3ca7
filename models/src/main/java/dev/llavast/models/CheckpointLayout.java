package dev.llavast.models;

import java.util.ArrayList;
import java.util.List;

/**
 * Tensor names and shapes of the official LLaVA-ST checkpoint (spec §11), as functions of a {@link
 * ModelConfig}. The forward-pass components load their weights by these names. Stateless; any
 * thread.
 *
 * <p>Shapes below use C = {@code hidden_size}, I = {@code intermediate_size}, V = {@code
 * vocab_size}, KV = {@code num_key_value_heads * head_dim}, Cv/Iv = the vision tower's widths, E =
 * {@code stp_embed_dim}, B = {@code num_coordinate_bins}.
 */
public final class CheckpointLayout {
  /** {@code [V, C]} token embedding. */
  public static final String EMBED_TOKENS = "model.embed_tokens.weight";

  /** {@code [C]} final RMSNorm. */
  public static final String FINAL_NORM = "model.norm.weight";

  /** {@code [V, C]} output head (absent when {@code tie_word_embeddings}). */
  public static final String LM_HEAD = "lm_head.weight";

  /** Prefix of every SigLIP tensor. */
  public static final String VISION_PREFIX = "model.vision_tower.vision_tower.vision_model.";

  /** {@code [Cv, 3, patch, patch]}. */
  public static final String PATCH_EMBEDDING_WEIGHT =
      VISION_PREFIX + "embeddings.patch_embedding.weight";

  /** {@code [Cv]}. */
  public static final String PATCH_EMBEDDING_BIAS =
      VISION_PREFIX + "embeddings.patch_embedding.bias";

  /** {@code [grid*grid, Cv]}. */
  public static final String POSITION_EMBEDDING =
      VISION_PREFIX + "embeddings.position_embedding.weight";

  /** {@code [C, mm_hidden]} first projector linear. */
  public static final String PROJECTOR_0_WEIGHT = "model.mm_projector.0.weight";

  /** {@code [C]}. */
  public static final String PROJECTOR_0_BIAS = "model.mm_projector.0.bias";

  /** {@code [C, C]} second projector linear. */
  public static final String PROJECTOR_2_WEIGHT = "model.mm_projector.2.weight";

  /** {@code [C]}. */
  public static final String PROJECTOR_2_BIAS = "model.mm_projector.2.bias";

  /** STP stage A (spatial 27 -> 9). */
  public static final String PACKER_SPATIAL = "token_packer";

  /** STP stage B (temporal 100 -> 20). */
  public static final String PACKER_SLOW = "token_packer_slow";

  /** STP stage C (discarded by the reference; optional here). */
  public static final String PACKER_FAST = "token_packer_fast";

  /** LAPE tables, each {@code [B, C]}. */
  public static final String TEMPORAL_INPUT = "model.temporal_input_embeddings.weight";

  public static final String TEMPORAL_OUTPUT = "model.temporal_output_embeddings.weight";
  public static final String HEIGHT_INPUT = "model.spatial_height_input_embeddings.weight";
  public static final String HEIGHT_OUTPUT = "model.spatial_height_output_embeddings.weight";
  public static final String WIDTH_INPUT = "model.spatial_width_input_embeddings.weight";
  public static final String WIDTH_OUTPUT = "model.spatial_width_output_embeddings.weight";

  /** Optional leftovers of LLaVA-OneVision, unused by the reference. */
  public static final String IMAGE_NEWLINE = "model.image_newline";

  public static final String POST_LAYERNORM_WEIGHT = VISION_PREFIX + "post_layernorm.weight";
  public static final String POST_LAYERNORM_BIAS = VISION_PREFIX + "post_layernorm.bias";

  private CheckpointLayout() {}

  /** {@code model.layers.<layer>.<suffix>}, e.g. {@code llmLayer(0, "self_attn.q_proj.weight")}. */
  public static String llmLayer(int layer, String suffix) {
    return "model.layers." + layer + "." + suffix;
  }

  /** SigLIP encoder layer tensor, e.g. {@code visionLayer(3, "mlp.fc1.weight")}. */
  public static String visionLayer(int layer, String suffix) {
    return VISION_PREFIX + "encoder.layers." + layer + "." + suffix;
  }

  /**
   * STP tensor, e.g. {@code packer(PACKER_SLOW, "attn.in_proj_weight")} = {@code
   * model.vision_resampler.token_packer_slow.devide_attention.attn.in_proj_weight}.
   */
  public static String packer(String packerName, String suffix) {
    return "model.vision_resampler." + packerName + ".devide_attention." + suffix;
  }

  /** Every tensor the model needs for {@code config}, with its shape, in a stable order. */
  public static List<TensorSpec> requiredTensors(ModelConfig config) {
    List<TensorSpec> out = new ArrayList<>();
    long c = config.hiddenSize();
    long kv = (long) config.numKeyValueHeads() * config.headDim();
    long inter = config.intermediateSize();
    long v = config.vocabSize();
    out.add(TensorSpec.of(EMBED_TOKENS, v, c));
    for (int i = 0; i < config.numHiddenLayers(); i++) {
      out.add(TensorSpec.of(llmLayer(i, "self_attn.q_proj.weight"), c, c));
      out.add(TensorSpec.of(llmLayer(i, "self_attn.q_proj.bias"), c));
      out.add(TensorSpec.of(llmLayer(i, "self_attn.k_proj.weight"), kv, c));
      out.add(TensorSpec.of(llmLayer(i, "self_attn.k_proj.bias"), kv));
      out.add(TensorSpec.of(llmLayer(i, "self_attn.v_proj.weight"), kv, c));
      out.add(TensorSpec.of(llmLayer(i, "self_attn.v_proj.bias"), kv));
      out.add(TensorSpec.of(llmLayer(i, "self_attn.o_proj.weight"), c, c));
      out.add(TensorSpec.of(llmLayer(i, "mlp.gate_proj.weight"), inter, c));
      out.add(TensorSpec.of(llmLayer(i, "mlp.up_proj.weight"), inter, c));
      out.add(TensorSpec.of(llmLayer(i, "mlp.down_proj.weight"), c, inter));
      out.add(TensorSpec.of(llmLayer(i, "input_layernorm.weight"), c));
      out.add(TensorSpec.of(llmLayer(i, "post_attention_layernorm.weight"), c));
    }
    out.add(TensorSpec.of(FINAL_NORM, c));
    if (!config.tieWordEmbeddings()) {
      out.add(TensorSpec.of(LM_HEAD, v, c));
    }

    ModelConfig.VisionConfig vis = config.vision();
    long cv = vis.hiddenSize();
    long iv = vis.intermediateSize();
    out.add(TensorSpec.of(PATCH_EMBEDDING_WEIGHT, cv, 3, vis.patchSize(), vis.patchSize()));
    out.add(TensorSpec.of(PATCH_EMBEDDING_BIAS, cv));
    out.add(TensorSpec.of(POSITION_EMBEDDING, vis.numPatches(), cv));
    for (int i = 0; i < vis.numHiddenLayers(); i++) {
      for (String p : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        out.add(TensorSpec.of(visionLayer(i, "self_attn." + p + ".weight"), cv, cv));
        out.add(TensorSpec.of(visionLayer(i, "self_attn." + p + ".bias"), cv));
      }
      out.add(TensorSpec.of(visionLayer(i, "layer_norm1.weight"), cv));
      out.add(TensorSpec.of(visionLayer(i, "layer_norm1.bias"), cv));
      out.add(TensorSpec.of(visionLayer(i, "mlp.fc1.weight"), iv, cv));
      out.add(TensorSpec.of(visionLayer(i, "mlp.fc1.bias"), iv));
      out.add(TensorSpec.of(visionLayer(i, "mlp.fc2.weight"), cv, iv));
      out.add(TensorSpec.of(visionLayer(i, "mlp.fc2.bias"), cv));
      out.add(TensorSpec.of(visionLayer(i, "layer_norm2.weight"), cv));
      out.add(TensorSpec.of(visionLayer(i, "layer_norm2.bias"), cv));
    }

    out.add(TensorSpec.of(PROJECTOR_0_WEIGHT, c, config.mmHiddenSize()));
    out.add(TensorSpec.of(PROJECTOR_0_BIAS, c));
    out.add(TensorSpec.of(PROJECTOR_2_WEIGHT, c, c));
    out.add(TensorSpec.of(PROJECTOR_2_BIAS, c));

    out.addAll(packerTensors(config, PACKER_SPATIAL));
    out.addAll(packerTensors(config, PACKER_SLOW));

    long bins = config.numCoordinateBins();
    for (String n : lapeTables()) {
      out.add(TensorSpec.of(n, bins, c));
    }
    return out;
  }

  /**
   * Tensors the release may carry that the model does not use: {@code model.image_newline},
   * SigLIP's {@code post_layernorm} and the fast packer. They are ignored when present.
   */
  public static List<TensorSpec> optionalTensors(ModelConfig config) {
    List<TensorSpec> out = new ArrayList<>();
    out.add(TensorSpec.of(IMAGE_NEWLINE, config.hiddenSize()));
    out.add(TensorSpec.of(POST_LAYERNORM_WEIGHT, config.vision().hiddenSize()));
    out.add(TensorSpec.of(POST_LAYERNORM_BIAS, config.vision().hiddenSize()));
    out.addAll(packerTensors(config, PACKER_FAST));
    return out;
  }

  /** The six LAPE tables in the order temporal, height, width (input then output). */
  public static List<String> lapeTables() {
    return List.of(
        TEMPORAL_INPUT, TEMPORAL_OUTPUT, HEIGHT_INPUT, HEIGHT_OUTPUT, WIDTH_INPUT, WIDTH_OUTPUT);
  }

  /** The point-to-region attention block of one packer (spec §5.1). */
  public static List<TensorSpec> packerTensors(ModelConfig config, String packerName) {
    long c = config.hiddenSize();
    long e = config.stpEmbedDim();
    List<TensorSpec> out = new ArrayList<>();
    for (String p : new String[] {"to_q", "to_k", "to_v"}) {
      out.add(TensorSpec.of(packer(packerName, p + ".0.weight"), e, c));
      out.add(TensorSpec.of(packer(packerName, p + ".0.bias"), e));
      out.add(TensorSpec.of(packer(packerName, p + ".2.weight"), e, e));
      out.add(TensorSpec.of(packer(packerName, p + ".2.bias"), e));
    }
    for (String ln : new String[] {"ln_q", "ln_k", "ln_v"}) {
      out.add(TensorSpec.of(packer(packerName, ln + ".weight"), e));
      out.add(TensorSpec.of(packer(packerName, ln + ".bias"), e));
    }
    out.add(TensorSpec.of(packer(packerName, "attn.in_proj_weight"), 3 * e, e));
    out.add(TensorSpec.of(packer(packerName, "attn.in_proj_bias"), 3 * e));
    out.add(TensorSpec.of(packer(packerName, "attn.out_proj.weight"), e, e));
    out.add(TensorSpec.of(packer(packerName, "attn.out_proj.bias"), e));
    out.add(TensorSpec.of(packer(packerName, "to_out.weight"), c, e));
    return out;
  }

  static String format(long[] dims) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < dims.length; i++) {
      if (i > 0) {
        sb.append(", ");
      }
      sb.append(dims[i]);
    }
    return sb.append(']').toString();
  }
}

package dev.llavast.models;

import java.util.Objects;

/**
 * The dimensions and constants of a LLaVA-ST checkpoint (see {@code shared/docs/LLAVA_ST_SPEC.md}).
 *
 * <p>Read from {@code config.json} by {@code ModelConfigs.read(Path)} (official keys; the keys that
 * the release does not spell out default to the official values). Immutable; any thread.
 *
 * @param hiddenSize LLM width {@code C} (3584 in the release)
 * @param numHiddenLayers Qwen2 layers (28)
 * @param numAttentionHeads query heads (28)
 * @param numKeyValueHeads KV heads for GQA (4)
 * @param intermediateSize SwiGLU width (18944)
 * @param rmsNormEps RMSNorm epsilon (1e-6)
 * @param ropeTheta RoPE base (1e6)
 * @param vocabSize {@code V}: rows of {@code embed_tokens} and {@code lm_head} (151660); coordinate
 *     bins are the extended ids {@code V .. V + 3*bins - 1}
 * @param maxPositionEmbeddings context limit (32768)
 * @param tieWordEmbeddings whether {@code lm_head} shares {@code embed_tokens} (false in the
 *     release)
 * @param mmHiddenSize vision feature width entering the projector (1152)
 * @param vision the SigLIP tower
 * @param stpEmbedDim packer attention width {@code E} (1024)
 * @param stpNumHeads packer attention heads (8)
 * @param numFrames frames sampled per video (100)
 * @param numCoordinateBins bins per coordinate axis (100)
 * @param torchDtype the checkpoint's stored dtype name ({@code float16}, {@code bfloat16}, {@code
 *     float32})
 */
public record ModelConfig(
    int hiddenSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int numKeyValueHeads,
    int intermediateSize,
    double rmsNormEps,
    double ropeTheta,
    int vocabSize,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings,
    int mmHiddenSize,
    VisionConfig vision,
    int stpEmbedDim,
    int stpNumHeads,
    int numFrames,
    int numCoordinateBins,
    String torchDtype) {

  public ModelConfig {
    Objects.requireNonNull(vision, "vision");
    Objects.requireNonNull(torchDtype, "torchDtype");
    requirePositive("hidden_size", hiddenSize);
    requirePositive("num_hidden_layers", numHiddenLayers);
    requirePositive("num_attention_heads", numAttentionHeads);
    requirePositive("num_key_value_heads", numKeyValueHeads);
    requirePositive("intermediate_size", intermediateSize);
    requirePositive("vocab_size", vocabSize);
    requirePositive("max_position_embeddings", maxPositionEmbeddings);
    requirePositive("mm_hidden_size", mmHiddenSize);
    requirePositive("stp_embed_dim", stpEmbedDim);
    requirePositive("stp_num_heads", stpNumHeads);
    requirePositive("num_frames", numFrames);
    requirePositive("num_coordinate_bins", numCoordinateBins);
    if (hiddenSize % numAttentionHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size "
              + hiddenSize
              + " is not a multiple of num_attention_heads "
              + numAttentionHeads);
    }
    if (numAttentionHeads % numKeyValueHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads "
              + numAttentionHeads
              + " is not a multiple of num_key_value_heads "
              + numKeyValueHeads);
    }
    if (stpEmbedDim % stpNumHeads != 0) {
      throw new IllegalArgumentException(
          "stp_embed_dim " + stpEmbedDim + " is not a multiple of stp_num_heads " + stpNumHeads);
    }
    if (vision.mmHiddenMismatch(mmHiddenSize)) {
      throw new IllegalArgumentException(
          "mm_hidden_size "
              + mmHiddenSize
              + " differs from vision hidden_size "
              + vision.hiddenSize());
    }
  }

  /** Per-head width of the LLM attention (128). */
  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  /** First extended id ({@code <TEMP-000>}); equals {@link #vocabSize()}. */
  public int firstBinId() {
    return vocabSize;
  }

  /** Rows of the extended output head: {@code V + 3 * bins}. */
  public int extendedVocabSize() {
    return vocabSize + 3 * numCoordinateBins;
  }

  /** KV-cache bytes per token for all layers, K and V, at {@code bytesPerElement}. */
  public long kvBytesPerToken(int bytesPerElement) {
    return 2L * numHiddenLayers * numKeyValueHeads * headDim() * bytesPerElement;
  }

  private static void requirePositive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " must be > 0, got " + value);
    }
  }

  /**
   * The SigLIP vision tower.
   *
   * @param hiddenSize 1152
   * @param intermediateSize 4304
   * @param numHiddenLayers layers used (26 in the release: the last of 27 is dropped)
   * @param numAttentionHeads 16
   * @param imageSize 384
   * @param patchSize 14
   * @param layerNormEps 1e-6
   */
  public record VisionConfig(
      int hiddenSize,
      int intermediateSize,
      int numHiddenLayers,
      int numAttentionHeads,
      int imageSize,
      int patchSize,
      double layerNormEps) {

    public VisionConfig {
      requirePositive("vision_config.hidden_size", hiddenSize);
      requirePositive("vision_config.intermediate_size", intermediateSize);
      requirePositive("vision_config.num_hidden_layers", numHiddenLayers);
      requirePositive("vision_config.num_attention_heads", numAttentionHeads);
      requirePositive("vision_config.image_size", imageSize);
      requirePositive("vision_config.patch_size", patchSize);
      // 384 / 14 is not whole: the stride-14 convolution keeps floor(384 / 14) = 27 patches per
      // side
      if (imageSize < patchSize) {
        throw new IllegalArgumentException(
            "vision_config.image_size " + imageSize + " is smaller than patch_size " + patchSize);
      }
      if (hiddenSize % numAttentionHeads != 0) {
        throw new IllegalArgumentException(
            "vision_config.hidden_size "
                + hiddenSize
                + " is not a multiple of num_attention_heads "
                + numAttentionHeads);
      }
    }

    /** The release's SigLIP-so400m-patch14-384, truncated to 26 layers. */
    public static VisionConfig official() {
      return new VisionConfig(1152, 4304, 26, 16, 384, 14, 1e-6);
    }

    /** Patches per side: {@code floor(image_size / patch_size)} (27). */
    public int gridSize() {
      return imageSize / patchSize;
    }

    /** Patches per image (729). */
    public int numPatches() {
      return gridSize() * gridSize();
    }

    public int headDim() {
      return hiddenSize / numAttentionHeads;
    }

    boolean mmHiddenMismatch(int mmHiddenSize) {
      return mmHiddenSize != hiddenSize;
    }
  }
}

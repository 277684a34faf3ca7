package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigsTest {
  @TempDir Path dir;

  private ModelConfig read(String json) throws Exception {
    Path f = dir.resolve("config.json");
    Files.writeString(f, json);
    return ModelConfigs.read(f);
  }

  @Test
  void releaseStyleConfigGetsTheOfficialDefaults() throws Exception {
    // the keys a llava_qwen config.json spells out; SigLIP and STP sizes are not in it
    ModelConfig c =
        read(
            "{\"model_type\":\"llava_qwen\",\"hidden_size\":3584,\"num_hidden_layers\":28,"
                + "\"num_attention_heads\":28,\"num_key_value_heads\":4,\"intermediate_size\":18944,\"rms_norm_eps\":1e-06,"
                + "\"rope_theta\":1000000.0,\"vocab_size\":151660,\"max_position_embeddings\":32768,"
                + "\"tie_word_embeddings\":false,\"mm_hidden_size\":1152,\"torch_dtype\":\"float16\","
                + "\"mm_projector_type\":\"mlp2x_gelu\",\"mm_resampler_type\":\"fast_slow_resampler\","
                + "\"mm_perceiver_latents\":81,\"mm_perceiver_latents_fast\":9}");
    assertThat(c.hiddenSize()).isEqualTo(3584);
    assertThat(c.headDim()).isEqualTo(128);
    assertThat(c.numKeyValueHeads()).isEqualTo(4);
    assertThat(c.ropeTheta()).isEqualTo(1e6);
    assertThat(c.vision()).isEqualTo(ModelConfig.VisionConfig.official());
    assertThat(c.vision().gridSize()).isEqualTo(27);
    assertThat(c.vision().numPatches()).isEqualTo(729);
    assertThat(c.stpEmbedDim()).isEqualTo(1024);
    assertThat(c.stpNumHeads()).isEqualTo(8);
    assertThat(c.numFrames()).isEqualTo(100);
    assertThat(c.numCoordinateBins()).isEqualTo(100);
    assertThat(c.extendedVocabSize()).isEqualTo(151960);
    assertThat(c.kvBytesPerToken(2)).isEqualTo(28L * 2 * 4 * 128 * 2); // 56 KiB, spec §12
    assertThat(c.torchDtype()).isEqualTo("float16");
  }

  @Test
  void minimalConfigUsesQwen2Defaults() throws Exception {
    ModelConfig c =
        read(
            "{\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                + "\"intermediate_size\":128,\"vocab_size\":300,\"vision_config\":{\"hidden_size\":32,"
                + "\"intermediate_size\":64,\"num_attention_heads\":2}}");
    assertThat(c.numKeyValueHeads()).isEqualTo(4);
    assertThat(c.rmsNormEps()).isEqualTo(1e-6);
    assertThat(c.ropeTheta()).isEqualTo(10000.0);
    assertThat(c.maxPositionEmbeddings()).isEqualTo(32768);
    assertThat(c.tieWordEmbeddings()).isFalse();
    assertThat(c.torchDtype()).isEqualTo("float32");
    assertThat(c.mmHiddenSize()).isEqualTo(32); // follows the vision width
    assertThat(c.vision()).isEqualTo(new ModelConfig.VisionConfig(32, 64, 26, 2, 384, 14, 1e-6));
  }

  @Test
  void overridesWin() throws Exception {
    ModelConfig c =
        read(
            "{\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                + "\"intermediate_size\":128,\"vocab_size\":300,\"mm_hidden_size\":32,\"vision_config\":{\"hidden_size\":32,"
                + "\"intermediate_size\":64,\"num_hidden_layers\":3,\"num_attention_heads\":4,\"image_size\":384,"
                + "\"patch_size\":14,\"layer_norm_eps\":1e-5},\"stp_embed_dim\":48,\"stp_num_heads\":6,\"num_frames\":50,"
                + "\"num_coordinate_bins\":20}");
    assertThat(c.vision()).isEqualTo(new ModelConfig.VisionConfig(32, 64, 3, 4, 384, 14, 1e-5));
    assertThat(c.stpEmbedDim()).isEqualTo(48);
    assertThat(c.stpNumHeads()).isEqualTo(6);
    assertThat(c.numFrames()).isEqualTo(50);
    assertThat(c.numCoordinateBins()).isEqualTo(20);
  }

  @Test
  void everyProblemIsReportedTogether() {
    assertThatThrownBy(
            () ->
                read(
                    "{\"hidden_size\":\"big\",\"num_attention_heads\":4,\"intermediate_size\":128,"
                        + "\"vocab_size\":300,\"mm_projector_type\":\"linear\",\"mm_perceiver_latents\":64,"
                        + "\"vision_config\":{\"patch_size\":1.5}}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("hidden_size must be an integer, got \"big\"")
        .hasMessageContaining("required key num_hidden_layers is missing")
        .hasMessageContaining("vision_config.patch_size must be an integer, got 1.5")
        .hasMessageContaining(
            "mm_projector_type is \"linear\"; this implementation supports only \"mlp2x_gelu\"")
        .hasMessageContaining("mm_perceiver_latents is 64; this implementation supports only 81");
    assertThatThrownBy(
            () ->
                read(
                    "{\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":5,"
                        + "\"intermediate_size\":128,\"vocab_size\":300,\"vision_config\":{\"hidden_size\":32,"
                        + "\"num_attention_heads\":2}}"))
        .hasMessageContaining("hidden_size 64 is not a multiple of num_attention_heads 5");
  }

  @Test
  void generationConfigIsReadWhenPresent() throws Exception {
    assertThat(ModelConfigs.readGenerationConfig(dir)).isEqualTo(GenerationConfig.empty());
    Files.writeString(
        dir.resolve("generation_config.json"),
        "{\"do_sample\":true,\"eos_token_id\":[151645,151643],"
            + "\"pad_token_id\":151643,\"repetition_penalty\":1.05,\"temperature\":0.7,\"top_k\":20,\"top_p\":0.8}");
    GenerationConfig g = ModelConfigs.readGenerationConfig(dir);
    assertThat(g.eosTokenIds()).isEqualTo(List.of(151645, 151643));
    assertThat(g.padTokenId()).hasValue(151643);
    assertThat(g.doSample()).isTrue();
    assertThat(g.repetitionPenalty()).hasValue(1.05);
    assertThat(g.topK()).hasValue(20);
    assertThat(g.topP()).hasValue(0.8);
    assertThat(g.temperature()).hasValue(0.7);
    Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\":151645}");
    g = ModelConfigs.readGenerationConfig(dir);
    assertThat(g.eosTokenIds()).containsExactly(151645);
    assertThat(g.topK()).isEmpty();
  }
}

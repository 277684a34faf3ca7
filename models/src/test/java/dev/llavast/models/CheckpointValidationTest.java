package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointValidationTest {
  @TempDir Path dir;

  @Test
  void requiredTensorsFollowTheSpecShapes() {
    ModelConfig c = TinyCheckpoints.Preset.TINY.config();
    List<TensorSpec> req = CheckpointLayout.requiredTensors(c);
    int v = c.vocabSize();
    assertThat(req)
        .contains(
            TensorSpec.of("model.embed_tokens.weight", v, 64),
            TensorSpec.of("lm_head.weight", v, 64),
            TensorSpec.of("model.layers.1.self_attn.k_proj.weight", 32, 64), // 2 kv heads x 16
            TensorSpec.of("model.layers.1.self_attn.q_proj.bias", 64),
            TensorSpec.of("model.layers.0.mlp.down_proj.weight", 64, 128),
            TensorSpec.of(
                "model.vision_tower.vision_tower.vision_model.embeddings.patch_embedding.weight",
                32,
                3,
                14,
                14),
            TensorSpec.of(
                "model.vision_tower.vision_tower.vision_model.embeddings.position_embedding.weight",
                729,
                32),
            TensorSpec.of(
                "model.vision_tower.vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight",
                64,
                32),
            TensorSpec.of("model.mm_projector.0.weight", 64, 32),
            TensorSpec.of("model.mm_projector.2.weight", 64, 64),
            TensorSpec.of(
                "model.vision_resampler.token_packer.devide_attention.to_q.0.weight", 32, 64),
            TensorSpec.of(
                "model.vision_resampler.token_packer_slow.devide_attention.attn.in_proj_weight",
                96,
                32),
            TensorSpec.of(
                "model.vision_resampler.token_packer_slow.devide_attention.to_out.weight", 64, 32),
            TensorSpec.of("model.spatial_width_output_embeddings.weight", 100, 64));
    // no o_proj bias, no fast packer, no post_layernorm, no image_newline among the required
    assertThat(req)
        .extracting(TensorSpec::name)
        .noneMatch(
            n ->
                n.contains("o_proj.bias")
                    || n.contains("token_packer_fast")
                    || n.contains("post_layernorm")
                    || n.contains("image_newline"));
    // LLM: embed + 12 per layer + norm + lm_head; vision: 3 + 16 per layer; projector 4; 2 packers
    // x 23; LAPE 6
    assertThat(req).hasSize(1 + 12 * 2 + 2 + 3 + 16 * 2 + 4 + 2 * 23 + 6);
    ModelConfig tied =
        new ModelConfig(
            64,
            2,
            4,
            2,
            128,
            1e-6,
            1e6,
            v,
            32768,
            true,
            32,
            c.vision(),
            32,
            4,
            100,
            100,
            "float32");
    assertThat(CheckpointLayout.requiredTensors(tied))
        .extracting(TensorSpec::name)
        .doesNotContain("lm_head.weight");
  }

  @Test
  void everyMissingAndMisShapedTensorIsListedInOneException() throws Exception {
    ModelConfig c = TinyCheckpoints.Preset.TINY.config();
    List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
    String wrong = CheckpointLayout.llmLayer(0, "self_attn.k_proj.weight");
    for (TensorSpec s : CheckpointLayout.requiredTensors(c)) {
      if (s.name().equals(CheckpointLayout.TEMPORAL_INPUT)
          || s.name().equals(CheckpointLayout.visionLayer(1, "mlp.fc2.bias"))) {
        continue; // missing
      }
      long[] shape = s.name().equals(wrong) ? new long[] {64, 64} : s.shape().getShape();
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      tensors.add(
          new SafetensorsWriter.Tensor(s.name(), StoredDtype.F16, shape, new float[(int) n]));
    }
    // extras are ignored
    tensors.add(
        new SafetensorsWriter.Tensor(
            CheckpointLayout.IMAGE_NEWLINE, StoredDtype.F16, new long[] {64}, new float[64]));
    tensors.add(
        new SafetensorsWriter.Tensor(
            CheckpointLayout.visionLayer(2, "mlp.fc1.weight"),
            StoredDtype.F16,
            new long[] {1},
            new float[1]));
    SafetensorsWriter.write(dir.resolve(Checkpoint.SINGLE_FILE), tensors, Map.of());
    try (Checkpoint ck = Checkpoint.open(dir)) {
      assertThat(ck.problems(c)).hasSize(3);
      assertThatThrownBy(() -> ck.validate(c))
          .isInstanceOf(CheckpointException.class)
          .hasMessageContaining("3 problems")
          .hasMessageContaining(
              "missing tensor model.temporal_input_embeddings.weight (expected shape [100, 64])")
          .hasMessageContaining(
              "missing tensor "
                  + CheckpointLayout.visionLayer(1, "mlp.fc2.bias")
                  + " (expected shape [32])")
          .hasMessageContaining(
              "tensor model.layers.0.self_attn.k_proj.weight has shape [64, 64], expected [32, 64]");
    }
  }

  @Test
  void tinyCheckpointValidatesAgainstItsOwnConfigAndNotAnother() throws Exception {
    ModelConfig written = TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, 1L);
    ModelConfig read = ModelConfigs.readDirectory(dir);
    assertThat(read).isEqualTo(written).isEqualTo(TinyCheckpoints.Preset.TINY.config());
    try (Checkpoint ck = Checkpoint.open(dir)) {
      ck.validate(read);
      assertThat(ck.names())
          .containsAll(
              CheckpointLayout.optionalTensors(read).stream().map(TensorSpec::name).toList());
      ModelConfig deeper =
          new ModelConfig(
              64,
              3,
              4,
              2,
              128,
              1e-6,
              1e6,
              read.vocabSize(),
              32768,
              false,
              32,
              read.vision(),
              32,
              4,
              100,
              100,
              "float32");
      assertThat(ck.problems(deeper))
          .hasSize(12)
          .allMatch(p -> p.startsWith("missing tensor model.layers.2."));
    }
  }
}

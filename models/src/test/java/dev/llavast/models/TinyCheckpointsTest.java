package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TinyCheckpointsTest {
  @TempDir Path dir;

  private static List<String> files(Path d) throws Exception {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void sameSeedGivesIdenticalBytesAndAnotherSeedDifferentWeights() throws Exception {
    TinyCheckpoints.Options sharded = new TinyCheckpoints.Options(StoredDtype.F16, 2, true);
    TinyCheckpoints.write(dir.resolve("a"), TinyCheckpoints.Preset.TINY, 42L, sharded);
    TinyCheckpoints.write(dir.resolve("b"), TinyCheckpoints.Preset.TINY, 42L, sharded);
    TinyCheckpoints.write(dir.resolve("c"), TinyCheckpoints.Preset.TINY, 43L, sharded);
    assertThat(files(dir.resolve("a")))
        .containsExactly(
            "config.json",
            "generation_config.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "model.safetensors.index.json",
            "tokenizer.json",
            "tokenizer_config.json");
    for (String f : files(dir.resolve("a"))) {
      assertThat(Files.readAllBytes(dir.resolve("b").resolve(f)))
          .as(f)
          .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(f)));
    }
    assertThat(Files.readAllBytes(dir.resolve("c").resolve("model-00001-of-00002.safetensors")))
        .isNotEqualTo(
            Files.readAllBytes(dir.resolve("a").resolve("model-00001-of-00002.safetensors")));
    assertThat(Files.readAllBytes(dir.resolve("c").resolve("tokenizer.json")))
        .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve("tokenizer.json")));
  }

  @Test
  void weightsHaveTheDocumentedStatistics() throws Exception {
    ModelConfig c = TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, 9L);
    try (Checkpoint ck = Checkpoint.open(dir)) {
      float[] w = ck.readFloats(CheckpointLayout.llmLayer(0, "mlp.up_proj.weight"));
      double mean = 0;
      double sq = 0;
      for (float x : w) {
        mean += x;
        sq += x * x;
      }
      mean /= w.length;
      double std = Math.sqrt(sq / w.length - mean * mean);
      assertThat(std).isBetween(0.019, 0.021); // 8192 samples of N(0, 0.02)
      assertThat(Math.abs(mean)).isLessThan(0.001);
      for (float x : ck.readFloats(CheckpointLayout.FINAL_NORM)) {
        assertThat(x).isBetween(0.9f, 1.1f); // norms at 1 (+ small noise)
      }
      assertThat(ck.readFloats(CheckpointLayout.TEMPORAL_INPUT)).hasSize(100 * c.hiddenSize());
    }
    try (Tokenizer tok = Tokenizer.load(dir, c)) {
      assertThat(tok.specialTokens().firstTempBin()).isEqualTo(c.vocabSize());
    }
    GenerationConfig g = ModelConfigs.readGenerationConfig(dir);
    try (Tokenizer tok = Tokenizer.load(dir, c)) {
      assertThat(g.eosTokenIds())
          .containsExactly(tok.specialTokens().imEnd(), tok.specialTokens().endOfText());
    }
  }

  @Test
  void presetsKeepTheRealGeometry() {
    for (TinyCheckpoints.Preset p : TinyCheckpoints.Preset.values()) {
      ModelConfig c = p.config();
      assertThat(c.vision().imageSize()).isEqualTo(384);
      assertThat(c.vision().patchSize()).isEqualTo(14);
      assertThat(c.vision().numPatches()).isEqualTo(729);
      assertThat(c.numFrames()).isEqualTo(100);
      assertThat(c.numCoordinateBins()).isEqualTo(100);
      assertThat(c.vocabSize()).isEqualTo(p.vocabSize());
    }
    assertThat(TinyCheckpoints.Preset.SMALL.config().hiddenSize()).isEqualTo(512);
    assertThat(TinyCheckpoints.Preset.SMALL.vocabSize()).isEqualTo(8192);
  }
}

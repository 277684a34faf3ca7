package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.Checkpoint;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.ModelConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCheckpointTest {
  @TempDir Path cache;

  @Test
  void writesOnceInTheOfficialLayoutAndReusesIt() throws Exception {
    Path dir = DemoCheckpoint.ensure(cache);
    assertThat(dir.getFileName().toString()).isEqualTo("llava-st-demo-tiny-v1");
    ModelConfig config = ModelConfigs.readDirectory(dir);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      ckpt.validate(config);
    }
    assertThat(dir.resolve("tokenizer.json")).exists();
    long written = Files.getLastModifiedTime(dir.resolve("config.json")).toMillis();

    assertThat(DemoCheckpoint.ensure(cache)).isEqualTo(dir);
    assertThat(Files.getLastModifiedTime(dir.resolve("config.json")).toMillis()).isEqualTo(written);
    try (var entries = Files.list(cache)) {
      assertThat(entries.count()).as("no temporary directories left").isEqualTo(1);
    }
  }
}

package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes the SMALL preset and loads every required tensor through DJL; prints the timings (-Pslow).
 */
@Tag("slow")
class SmallPresetLoadTest {
  @TempDir Path dir;

  @Test
  void writeValidateAndLoadSmall() throws Exception {
    long t0 = System.nanoTime();
    ModelConfig c =
        TinyCheckpoints.write(
            dir,
            TinyCheckpoints.Preset.SMALL,
            1L,
            new TinyCheckpoints.Options(StoredDtype.F32, 2, true));
    long t1 = System.nanoTime();
    long bytes;
    try (Stream<Path> s = Files.list(dir)) {
      bytes = s.mapToLong(p -> p.toFile().length()).sum();
    }
    long elements = 0;
    long t2;
    long t3;
    try (Checkpoint ck = Checkpoint.open(dir);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      ck.validate(c);
      t2 = System.nanoTime();
      for (TensorSpec s : CheckpointLayout.requiredTensors(c)) {
        NDArray a = ck.load(s.name(), m, DataType.FLOAT32);
        assertThat(a.getShape()).isEqualTo(s.shape());
        elements += a.size();
      }
      t3 = System.nanoTime();
    }
    System.out.printf(
        "SMALL: %d required params, %.1f MB on disk; write %.2f s, open+validate %.3f s,"
            + " load all (F32, cpu) %.2f s%n",
        elements, bytes / 1e6, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9);
  }
}

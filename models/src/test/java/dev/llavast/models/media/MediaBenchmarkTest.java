package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@link MediaDecodeBenchmark} (three H.264 clips of issue 15's shapes: our decode + sample +
 * resize of 100 frames against a full one-thread decode, and the old path) and prints its table.
 * Not a pass/fail timing test. Run: {@code ./mvnw -B -pl models -am verify -Pslow
 * -Dtest=MediaBenchmarkTest -Dsurefire.failIfNoSpecifiedTests=false}
 */
@Tag("slow")
class MediaBenchmarkTest {

  @Test
  void decodeAgainstFullDecode(@TempDir Path dir) throws Exception {
    List<MediaDecodeBenchmark.Row> rows = MediaDecodeBenchmark.run(dir, 3);
    MediaDecodeBenchmark.print(rows, System.out);
    assertThat(rows).hasSize(3);
    for (MediaDecodeBenchmark.Row r : rows) {
      assertThat(r.stages1().framesConverted()).isEqualTo(MediaDecodeBenchmark.SAMPLED);
      assertThat(r.stages1().framesDecoded()).isEqualTo(r.clip().frames());
    }
  }
}

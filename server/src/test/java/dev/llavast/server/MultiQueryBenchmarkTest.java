package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.TinyCheckpoints;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@link MultiQueryBenchmark} once on the tiny preset (slow: {@code -Pslow}). It prints the
 * numbers; it checks what holds on any machine (every question answered in both modes, the
 * reference flow never reused features, caching made the workload faster), not the targets,
 * which depend on the machine.
 */
@Tag("slow")
class MultiQueryBenchmarkTest {
  @Test
  @Timeout(value = 20, unit = TimeUnit.MINUTES)
  void tinyPresetWorkloadRunsInBothModes(@TempDir Path dir) throws Exception {
    MultiQueryBenchmark.Result r =
        MultiQueryBenchmark.run(dir, TinyCheckpoints.Preset.TINY, 2, 4, 4, 8, true);
    assertThat(r.fast().answers()).hasSize(8);
    assertThat(r.reference().answers()).hasSize(8);
    assertThat(r.reference().answers()).noneMatch(MultiQueryBenchmark.Answer::cacheHit);
    assertThat(r.throughputRatio()).isGreaterThan(1.0);
    assertThat(r.overlap().coldTtftSeconds()).isPositive();
  }
}

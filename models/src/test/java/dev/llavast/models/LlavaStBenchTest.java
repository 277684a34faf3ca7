package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs {@link LlavaStBench} on the real {@code tiny} and {@code small} presets with one torch
 * thread and prints its table (slow-tagged, not a timing assertion: {@code ./mvnw -B -pl models -am
 * test -Pslow -Dtest=LlavaStBenchTest -Dsurefire.failIfNoSpecifiedTests=false}).
 */
@Tag("slow")
@Timeout(1800)
class LlavaStBenchTest {
  @Test
  void benchmarkRunsOnBothPresets() throws Exception {
    String table =
        LlavaStBench.run(List.of(TinyCheckpoints.Preset.TINY, TinyCheckpoints.Preset.SMALL), 1, 10);
    System.out.println(table);
    assertThat(table).contains("media: decode + sample").contains("| tiny |").contains("| small |");
    assertThat(table.lines().filter(l -> l.startsWith("| tiny |") || l.startsWith("| small |")))
        .allSatisfy(l -> assertThat(l.split("\\|")).hasSize(12));
  }
}

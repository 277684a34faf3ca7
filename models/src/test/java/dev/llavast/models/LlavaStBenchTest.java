package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs the benchmark on the tiny and small presets with one torch thread (slow-tagged:
 * {@code ./mvnw -B -pl models -am test -Pslow -Dtest=LlavaStBenchTest -Dsurefire.failIfNoSpecifiedTests=false}).
 */
@Tag("slow")
class LlavaStBenchTest {
  @Test
  void tinyBenchmarkRuns() {
    for (String preset : new String[] {"tiny", "small"}) {
      String table = LlavaStBench.run(LlavaStBench.preset(preset), preset, Device.cpu(), 1, 512, 256, 1);
      System.out.println(table);
      assertThat(table).contains("prefill:").contains("decode batch 32");
    }
  }
}

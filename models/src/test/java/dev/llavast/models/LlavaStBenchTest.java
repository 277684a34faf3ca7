package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Runs the benchmark main on the tiny preset (slow-tagged; {@code -Pslow -Dtest=LlavaStBenchTest}). */
@Tag("slow")
class LlavaStBenchTest {
  @Test
  void tinyBenchmarkRuns() {
    String table = LlavaStBench.run(LlavaStBench.preset("tiny"), "tiny", Device.cpu(), 1, 512, 256);
    System.out.println(table);
    assertThat(table).contains("prefill:").contains("decode batch 32");
  }
}

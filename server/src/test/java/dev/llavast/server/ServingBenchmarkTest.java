package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@link ServingBenchmark} once (slow: excluded from the default build; {@code -Pslow}). It
 * prints the numbers; it checks only that both paths produced the same tokens and that the caches
 * made a repeated question faster, not the targets, which depend on the machine.
 */
@Tag("slow")
class ServingBenchmarkTest {
  @Test
  @Timeout(value = 20, unit = TimeUnit.MINUTES)
  void smallModelBenchmarkRuns(@TempDir Path dir) throws Exception {
    ServingBenchmark.Result r = ServingBenchmark.run(dir, 8, 128, 3);
    assertThat(r.grpcTokens())
        .as("greedy answers are the same through gRPC and in-process")
        .isEqualTo(r.inProcessTokens())
        .isPositive();
    assertThat(r.repeatedTtftSeconds()).isLessThan(r.firstTtftSeconds());
  }
}

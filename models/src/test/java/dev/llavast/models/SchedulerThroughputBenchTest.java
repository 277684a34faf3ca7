package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs {@link SchedulerThroughputBench} (SMALL preset, 1/8/32 streams, 64 new tokens, one torch
 * thread) and prints its table; slow-tagged: {@code ./mvnw -B -pl models -am test -Pslow
 * -Dtest=SchedulerThroughputBenchTest -Dsurefire.failIfNoSpecifiedTests=false}. It checks only that
 * every stream generated its full length; the numbers are for the reader.
 */
@Tag("slow")
class SchedulerThroughputBenchTest {
  @Test
  void throughputAtOneEightAndThirtyTwoStreams() throws Exception {
    List<SchedulerThroughputBench.Row> rows =
        SchedulerThroughputBench.run(new int[] {1, 8, 32}, 64, 1, 512, 1);
    System.out.println(SchedulerThroughputBench.table(rows, 64, 1, 512, 1));
    assertThat(rows)
        .extracting(SchedulerThroughputBench.Row::generated)
        .containsExactly(64L, 8 * 64L, 32 * 64L);
  }
}

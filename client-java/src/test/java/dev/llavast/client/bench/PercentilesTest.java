package dev.llavast.client.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class PercentilesTest {
  @Test
  void nearestRank() {
    double[] v = {15, 20, 35, 40, 50};
    // ceil(0.3*5)=2 -> 20; ceil(0.4*5)=2 -> 20; ceil(0.5*5)=3 -> 35; ceil(1.0*5)=5 -> 50
    assertThat(Percentiles.of(v, 30)).isEqualTo(20);
    assertThat(Percentiles.of(v, 40)).isEqualTo(20);
    assertThat(Percentiles.of(v, 50)).isEqualTo(35);
    assertThat(Percentiles.of(v, 100)).isEqualTo(50);
    double[] hundred = new double[100];
    for (int i = 0; i < 100; i++) {
      hundred[99 - i] = i + 1; // 100..1, unsorted on purpose
    }
    assertThat(Percentiles.of(hundred, 90)).isEqualTo(90);
    assertThat(Percentiles.of(hundred, 99)).isEqualTo(99);
    assertThat(Percentiles.of(new double[0], 50)).isNaN();
  }

  @Test
  void levelAggregatesHandComputedValues() {
    List<RequestSample> s =
        List.of(
            new RequestSample(
                "", 10_000_000, 50_000_000, new long[] {2_000_000, 4_000_000}, 3, 2530, 0, false),
            new RequestSample(
                "", 20_000_000, 70_000_000, new long[] {6_000_000}, 2, 2530, 2520, true),
            new RequestSample(
                "RESOURCE_EXHAUSTED/OVERLOADED", -1, 1_000_000, new long[0], 0, 0, 0, false));
    LevelResult r = LevelResult.of(4, 0, s, 2.0);
    assertThat(r.requests()).isEqualTo(3);
    assertThat(r.succeeded()).isEqualTo(2);
    assertThat(r.errors()).containsEntry("RESOURCE_EXHAUSTED/OVERLOADED", 1);
    assertThat(r.requestsPerSecond()).isEqualTo(1.0);
    assertThat(r.tokensPerSecond()).isEqualTo(2.5);
    assertThat(r.ttftMs().p50()).isEqualTo(10.0);
    assertThat(r.ttftMs().p99()).isEqualTo(20.0);
    assertThat(r.interTokenMs().p50()).isEqualTo(4.0);
    assertThat(r.interTokenMs().mean()).isCloseTo(4.0, within(1e-9));
    assertThat(r.e2eMs().p90()).isEqualTo(70.0);
    assertThat(r.featureCacheHitRatio()).isEqualTo(0.5);
    assertThat(r.prefixCacheHitRatio()).isCloseTo(2520 / 5060.0, within(1e-12));
  }
}

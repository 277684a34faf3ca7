package dev.llavast.client.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Aggregated results of one bench level (one concurrency, one arrival rate). Latencies in
 * milliseconds; percentiles by nearest rank; ratios in [0, 1] (NaN when nothing succeeded).
 */
public record LevelResult(
    int concurrency,
    double arrivalRatePerSecond,
    int requests,
    int succeeded,
    Map<String, Integer> errors,
    double durationSeconds,
    double requestsPerSecond,
    double tokensPerSecond,
    Latency ttftMs,
    Latency interTokenMs,
    Latency e2eMs,
    double featureCacheHitRatio,
    double prefixCacheHitRatio,
    long generatedTokens) {

  /** p50 / p90 / p99 and mean of a latency, in ms. */
  public record Latency(double p50, double p90, double p99, double mean, int count) {
    static Latency of(double[] ms) {
      double sum = 0;
      for (double v : ms) {
        sum += v;
      }
      return new Latency(
          Percentiles.of(ms, 50),
          Percentiles.of(ms, 90),
          Percentiles.of(ms, 99),
          ms.length == 0 ? Double.NaN : sum / ms.length,
          ms.length);
    }
  }

  /** Aggregates samples measured over {@code durationSeconds} of wall time. */
  public static LevelResult of(
      int concurrency, double rate, List<RequestSample> samples, double durationSeconds) {
    Map<String, Integer> errors = new TreeMap<>();
    List<Double> ttft = new ArrayList<>();
    List<Double> itl = new ArrayList<>();
    List<Double> e2e = new ArrayList<>();
    long tokens = 0;
    long prompt = 0;
    long cached = 0;
    int hits = 0;
    int ok = 0;
    for (RequestSample s : samples) {
      if (!s.ok()) {
        errors.merge(s.error(), 1, Integer::sum);
        continue;
      }
      ok++;
      if (s.ttftNanos() >= 0) {
        ttft.add(s.ttftNanos() / 1e6);
      }
      for (long g : s.interTokenNanos()) {
        itl.add(g / 1e6);
      }
      e2e.add(s.e2eNanos() / 1e6);
      tokens += s.generatedTokens();
      prompt += s.promptTokens();
      cached += s.cachedTokens();
      hits += s.featureCacheHit() ? 1 : 0;
    }
    double d = Math.max(durationSeconds, 1e-9);
    return new LevelResult(
        concurrency,
        rate,
        samples.size(),
        ok,
        errors,
        durationSeconds,
        ok / d,
        tokens / d,
        Latency.of(arr(ttft)),
        Latency.of(arr(itl)),
        Latency.of(arr(e2e)),
        ok == 0 ? Double.NaN : hits / (double) ok,
        prompt == 0 ? Double.NaN : cached / (double) prompt,
        tokens);
  }

  private static double[] arr(List<Double> l) {
    double[] a = new double[l.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = l.get(i);
    }
    return a;
  }
}

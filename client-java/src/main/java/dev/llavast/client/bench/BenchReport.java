package dev.llavast.client.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The results of a bench run: the config, the media used and one {@link LevelResult} per level. */
public record BenchReport(BenchConfig config, List<String> mediaIds, List<LevelResult> levels) {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** The report as a JSON tree (latencies in ms, ratios in [0, 1], NaN as null). */
  public ObjectNode toJson() {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode cfg = root.putObject("config");
    cfg.put("videos", config.videoCount());
    cfg.put("generated_videos", config.videoFiles().isEmpty());
    cfg.put("questions_per_video", config.questionsPerVideo());
    cfg.put("max_new_tokens", config.maxNewTokens());
    cfg.put("arrival_rate_per_s", config.arrivalRate());
    cfg.put("max_duration_s", config.maxDuration().toMillis() / 1000.0);
    cfg.put("warmup_requests", config.warmupRequests());
    ArrayNode conc = cfg.putArray("concurrency");
    config.concurrency().forEach(conc::add);
    ArrayNode media = root.putArray("media_ids");
    mediaIds.forEach(media::add);
    ArrayNode ls = root.putArray("levels");
    for (LevelResult l : levels) {
      ObjectNode n = ls.addObject();
      n.put("concurrency", l.concurrency());
      n.put("requests", l.requests());
      n.put("succeeded", l.succeeded());
      ObjectNode errs = n.putObject("errors");
      for (Map.Entry<String, Integer> e : l.errors().entrySet()) {
        errs.put(e.getKey(), e.getValue());
      }
      n.put("duration_s", l.durationSeconds());
      n.put("requests_per_s", l.requestsPerSecond());
      n.put("tokens_per_s", l.tokensPerSecond());
      n.put("generated_tokens", l.generatedTokens());
      latency(n.putObject("ttft_ms"), l.ttftMs());
      latency(n.putObject("inter_token_ms"), l.interTokenMs());
      latency(n.putObject("e2e_ms"), l.e2eMs());
      num(n, "feature_cache_hit_ratio", l.featureCacheHitRatio());
      num(n, "prefix_cache_hit_ratio", l.prefixCacheHitRatio());
    }
    return root;
  }

  public String toJsonString() {
    try {
      return JSON.writeValueAsString(toJson());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("a tree of numbers and strings always serializes", e);
    }
  }

  private static void latency(ObjectNode n, LevelResult.Latency l) {
    num(n, "p50", l.p50());
    num(n, "p90", l.p90());
    num(n, "p99", l.p99());
    num(n, "mean", l.mean());
    n.put("count", l.count());
  }

  private static void num(ObjectNode n, String k, double v) {
    if (Double.isNaN(v)) {
      n.putNull(k);
    } else {
      n.put(k, v);
    }
  }

  /** A fixed-width table, one row per level, then errors by code. */
  public void printTable(PrintStream out) {
    out.printf(
        Locale.ROOT,
        "%-4s %6s %5s %8s %9s | %-23s | %-23s | %-23s | %6s %6s%n",
        "C",
        "reqs",
        "ok",
        "req/s",
        "tok/s",
        "TTFT ms p50/p90/p99",
        "ITL ms p50/p90/p99",
        "E2E ms p50/p90/p99",
        "featC",
        "prefC");
    for (LevelResult l : levels) {
      out.printf(
          Locale.ROOT,
          "%-4d %6d %5d %8.2f %9.1f | %-23s | %-23s | %-23s | %6s %6s%n",
          l.concurrency(),
          l.requests(),
          l.succeeded(),
          l.requestsPerSecond(),
          l.tokensPerSecond(),
          triple(l.ttftMs()),
          triple(l.interTokenMs()),
          triple(l.e2eMs()),
          pct(l.featureCacheHitRatio()),
          pct(l.prefixCacheHitRatio()));
    }
    for (LevelResult l : levels) {
      if (!l.errors().isEmpty()) {
        out.println("errors at C=" + l.concurrency() + ": " + l.errors());
      }
    }
  }

  private static String triple(LevelResult.Latency l) {
    return String.format(Locale.ROOT, "%.1f/%.1f/%.1f", l.p50(), l.p90(), l.p99());
  }

  private static String pct(double r) {
    return Double.isNaN(r) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * r);
  }
}

package dev.llavast.client.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.client.Answer;
import dev.llavast.client.Box;
import dev.llavast.client.Coordinate;
import dev.llavast.client.CoordinateJson;
import dev.llavast.client.LlavaStException;
import dev.llavast.client.Span;
import dev.llavast.client.Timestamp;
import java.io.PrintStream;
import java.util.Locale;

/** How the CLI prints answers and errors, as text for people and as JSON for scripts. Stateless. */
final class Output {
  static final ObjectMapper JSON = new ObjectMapper();

  private Output() {}

  /** Coordinate lines printed after a streamed answer: {@code span 2.02s-4.55s}. */
  static void printCoordinates(PrintStream out, Answer a) {
    for (Coordinate c : a.coordinates()) {
      String kind =
          c.value() instanceof Timestamp
              ? "time"
              : c.value() instanceof Span ? "span" : c.value() instanceof Box ? "box" : "timed box";
      out.println("  " + kind + " " + c.describe());
    }
  }

  static void printSummary(PrintStream out, Answer a, double clientTtftSeconds) {
    out.printf(
        Locale.ROOT,
        "[%s, %d tokens, ttft %.3fs, media %s%s]%n",
        a.finishReason().name().replace("FINISH_REASON_", ""),
        a.usage().getGeneratedTokens(),
        clientTtftSeconds,
        a.mediaId(),
        a.usage().getFeatureCacheHit() ? ", features cached" : "");
  }

  static ObjectNode answerJson(Answer a, double clientTtftSeconds) {
    ObjectNode n = JSON.createObjectNode();
    n.put("request_id", a.requestId());
    n.put("media_id", a.mediaId());
    n.put("text", a.text());
    n.put("finish_reason", a.finishReason().name().replace("FINISH_REASON_", ""));
    ArrayNode cs = n.putArray("coordinates");
    for (Coordinate c : a.coordinates()) {
      cs.add(CoordinateJson.of(c));
    }
    ObjectNode u = n.putObject("usage");
    u.put("prompt_tokens", a.usage().getPromptTokens());
    u.put("visual_tokens", a.usage().getVisualTokens());
    u.put("cached_tokens", a.usage().getCachedTokens());
    u.put("generated_tokens", a.usage().getGeneratedTokens());
    u.put("feature_cache_hit", a.usage().getFeatureCacheHit());
    n.put("client_ttft_seconds", clientTtftSeconds);
    n.put("server_ttft_seconds", a.timings().getTimeToFirstTokenSeconds());
    n.put("server_total_seconds", a.timings().getTotalSeconds());
    return n;
  }

  static ObjectNode errorJson(LlavaStException e) {
    ObjectNode n = JSON.createObjectNode();
    ObjectNode err = n.putObject("error");
    err.put("code", e.code().name());
    err.put("reason", e.reasonName());
    err.put("message", e.statusMessage());
    err.put("attempts", e.attempts());
    ArrayNode vs = err.putArray("violations");
    for (LlavaStException.FieldViolation v : e.violations()) {
      vs.addObject().put("field", v.field()).put("description", v.description());
    }
    e.retryDelay().ifPresent(d -> err.put("retry_delay_seconds", d.toMillis() / 1000.0));
    return n;
  }

  static void printError(PrintStream err, LlavaStException e) {
    err.println("error: " + e.getMessage());
    for (LlavaStException.FieldViolation v : e.violations()) {
      err.println("  " + v.field() + ": " + v.description());
    }
    e.retryDelay()
        .ifPresent(d -> err.println("  server suggests retrying after " + d.toMillis() + " ms"));
  }
}

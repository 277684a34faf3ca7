package dev.llavast.client.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.client.Answer;
import dev.llavast.client.Coordinate;
import dev.llavast.client.CoordinateJson;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One line of the predictions file (JSONL): the sample id, how the request went, the raw answer and
 * its token ids, every coordinate in seconds, pixels, normalized values and bins, and the latency.
 * {@link Scores} reads only these lines, so a report can be made again from the file.
 *
 * @param status {@code ok}, {@code failed} (the server answered an error) or {@code missing_media}
 * @param error the error ({@code CODE/REASON: message}) when failed, else empty
 * @param coordinates every coordinate group of the answer, in order
 * @param latencySeconds from sending the request to the final message
 */
public record Prediction(
    String id,
    String task,
    String status,
    String error,
    String text,
    int[] tokenIds,
    List<JsonNode> coordinates,
    double latencySeconds) {
  static final ObjectMapper JSON = new ObjectMapper();

  public Prediction {
    coordinates = List.copyOf(coordinates);
  }

  /** A finished answer. */
  static Prediction of(EvalSample s, Answer a, double latencySeconds) {
    List<JsonNode> coords = new ArrayList<>();
    for (Coordinate c : a.coordinates()) {
      coords.add(CoordinateJson.of(c));
    }
    int[] ids = a.proto().getTokenIdsList().stream().mapToInt(Integer::intValue).toArray();
    return new Prediction(s.id(), s.task().name(), "ok", "", a.text(), ids, coords, latencySeconds);
  }

  static Prediction failed(EvalSample s, String error, double latencySeconds) {
    return new Prediction(
        s.id(), s.task().name(), "failed", error, "", new int[0], List.of(), latencySeconds);
  }

  static Prediction missingMedia(EvalSample s) {
    return new Prediction(
        s.id(),
        s.task().name(),
        "missing_media",
        "no file " + s.media(),
        "",
        new int[0],
        List.of(),
        0);
  }

  boolean ok() {
    return status.equals("ok");
  }

  /**
   * The first coordinate of {@code type} ({@code time}, {@code span}, {@code box}, {@code
   * timed_box}), or null.
   */
  @Nullable JsonNode first(String type) {
    return coordinates.stream()
        .filter(c -> c.path("type").asText().equals(type))
        .findFirst()
        .orElse(null);
  }

  List<JsonNode> all(String type) {
    return coordinates.stream().filter(c -> c.path("type").asText().equals(type)).toList();
  }

  /** The line. */
  String toJsonLine() {
    ObjectNode o = JSON.createObjectNode();
    o.put("id", id).put("task", task).put("status", status).put("error", error).put("text", text);
    ArrayNode ids = o.putArray("token_ids");
    for (int t : tokenIds) {
      ids.add(t);
    }
    o.putArray("coordinates").addAll(coordinates);
    o.put("latency_s", latencySeconds);
    return o.toString();
  }

  /** Reads a line written by {@link #toJsonLine}. */
  static Prediction parse(String line) throws java.io.IOException {
    JsonNode o = JSON.readTree(line);
    List<JsonNode> coords = new ArrayList<>();
    o.path("coordinates").forEach(coords::add);
    int[] ids = new int[o.path("token_ids").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = o.path("token_ids").get(i).asInt();
    }
    return new Prediction(
        o.path("id").asText(),
        o.path("task").asText(),
        o.path("status").asText(),
        o.path("error").asText(""),
        o.path("text").asText(""),
        ids,
        coords,
        o.path("latency_s").asDouble());
  }
}

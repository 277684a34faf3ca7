package dev.llavast.models;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts the native operators that PyTorch runs while an action runs, through libtorch's own
 * profiler (DJL's {@link JniUtils#startProfile}, which records every ATen operator with its start
 * and duration on the calling thread). An operator not nested in another one is a <em>top-level
 * op</em>: one call from Java into libtorch, and on a GPU at least one kernel launch. Nested ones
 * (an {@code aten::linear} runs an {@code aten::addmm}) are counted apart as {@code leaf} ops.
 *
 * <p>The profiler is process-wide: count on one thread at a time (tests here run sequentially).
 */
final class OpCounter {
  private OpCounter() {}

  /** Operators of one profiled action. */
  record Counts(int topLevel, int leaf, Map<String, Integer> byName) {}

  static Counts count(Runnable action) {
    Path trace;
    try {
      trace = Files.createTempFile("llavast-ops", ".json");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      JniUtils.startProfile(false, false, false);
      try {
        action.run();
      } finally {
        JniUtils.stopProfile(trace.toString());
      }
      return parse(trace);
    } finally {
      try {
        Files.deleteIfExists(trace);
      } catch (IOException ignored) {
        // a temp file left behind is harmless
      }
    }
  }

  private record Op(String name, double ts, double end, long tid) {}

  static Counts parse(Path trace) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(trace.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    JsonNode events = root.isArray() ? root : root.path("traceEvents");
    List<Op> ops = new ArrayList<>();
    for (JsonNode e : events) {
      if (!"X".equals(e.path("ph").asText())) {
        continue;
      }
      double ts = e.path("ts").asDouble();
      ops.add(
          new Op(
              e.path("name").asText(), ts, ts + e.path("dur").asDouble(), e.path("tid").asLong()));
    }
    ops.sort(
        Comparator.comparingLong(Op::tid)
            .thenComparingDouble(Op::ts)
            .thenComparingDouble(o -> -o.end()));
    int top = 0;
    int leaf = 0;
    Map<String, Integer> byName = new TreeMap<>();
    long tid = Long.MIN_VALUE;
    double openUntil = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < ops.size(); i++) {
      Op o = ops.get(i);
      if (o.tid() != tid) {
        tid = o.tid();
        openUntil = Double.NEGATIVE_INFINITY;
      }
      if (o.ts() >= openUntil) {
        top++;
        byName.merge(o.name(), 1, Integer::sum);
        openUntil = o.end();
      }
      boolean hasChild =
          i + 1 < ops.size() && ops.get(i + 1).tid() == o.tid() && ops.get(i + 1).ts() < o.end();
      if (!hasChild) {
        leaf++;
      }
    }
    return new Counts(top, leaf, byName);
  }
}

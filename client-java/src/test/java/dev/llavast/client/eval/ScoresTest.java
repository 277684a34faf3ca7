package dev.llavast.client.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.llavast.api.v1.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The metrics against values worked out by hand, in both conventions. */
class ScoresTest {

  private static JsonNode json(String s) {
    try {
      return Prediction.JSON.readTree(s);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode span(double s, double e) {
    return json(
        "{\"type\":\"span\",\"start\":{\"seconds\":"
            + s
            + ",\"normalized\":"
            + s / 10
            + "},"
            + "\"end\":{\"seconds\":"
            + e
            + ",\"normalized\":"
            + e / 10
            + "}}");
  }

  private static JsonNode box(double x1, double y1, double x2, double y2) {
    return json(
        "{\"type\":\"box\",\"box\":{\"x1_normalized\":"
            + x1
            + ",\"y1_normalized\":"
            + y1
            + ",\"x2_normalized\":"
            + x2
            + ",\"y2_normalized\":"
            + y2
            + "}}");
  }

  private static Prediction ok(String id, JsonNode... coords) {
    return new Prediction(id, "X", "ok", "", "text", new int[0], List.of(coords), 0.1);
  }

  private static Prediction failed(String id) {
    return new Prediction(
        id, "X", "failed", "RESOURCE_EXHAUSTED/OVERLOADED: busy", "", new int[0], List.of(), 0);
  }

  private static EvalSample tvg(String id, double s, double e) {
    return new EvalSample(
        id, Task.TASK_TVG, Path.of(id), "q", null, new EvalSample.SpanTruth(s, e, true));
  }

  @Test
  void tvgInBothConventionsWithTiesAtTheThresholdsAndUnparseableAnswers() {
    List<EvalSample> samples =
        List.of(tvg("a", 0, 10), tvg("b", 0, 10), tvg("c", 2, 4), tvg("d", 5, 5), tvg("e", 0, 10));
    List<Prediction> preds =
        List.of(
            ok("a", span(0, 5)), // IoU 0.5 exactly: R@0.5 strict misses, >= hits
            ok("b", span(0, 3)), // IoU 0.3 exactly
            ok("c", span(2, 4)), // IoU 1
            ok("d", span(5, 5)), // zero-length truth and prediction: empty union, IoU 0
            failed("e")); // unparseable
    Scores.TaskScores t = Scores.of(samples, preds).get(0);
    assertThat(t.samples()).isEqualTo(5);
    assertThat(t.unparseable()).isEqualTo(1); // "e"; "d" answered a span that scores 0
    assertThat(t.failed()).isEqualTo(Map.of("RESOURCE_EXHAUSTED/OVERLOADED", 1));
    assertThat(t.llavaSt().get("mIoU")).isCloseTo((0.5 + 0.3 + 1) / 5, within(1e-12));
    assertThat(t.llavaSt().get("R@1,IoU>0.3")).isCloseTo(40.0, within(1e-9)); // a, c
    assertThat(t.llavaSt().get("R@1,IoU>0.5")).isCloseTo(20.0, within(1e-9)); // c
    assertThat(t.llavaSt().get("R@1,IoU>0.7")).isCloseTo(20.0, within(1e-9));
    assertThat(t.lmmsEval().get("R@1,IoU>=0.3")).isCloseTo(60.0, within(1e-9)); // a, b, c
    assertThat(t.lmmsEval().get("R@1,IoU>=0.5")).isCloseTo(40.0, within(1e-9)); // a, c
    assertThat(t.lmmsEval().get("R@1,IoU>=0.7")).isCloseTo(20.0, within(1e-9));
  }

  @Test
  void recOverParseableForLlavaStAndOverAllForLmmsEvalWithCenterAccuracy() {
    EvalSample.BoxTruth gt = new EvalSample.BoxTruth(0.25, 0.25, 0.75, 0.75, 100, 100);
    List<EvalSample> samples = new ArrayList<>();
    for (String id : List.of("a", "b", "c", "d")) {
      samples.add(new EvalSample(id, Task.TASK_REC, Path.of(id), "q", null, gt));
    }
    List<Prediction> preds =
        List.of(
            ok("a", box(0.25, 0.25, 0.75, 0.75)), // IoU 1, center inside
            ok(
                "b",
                box(
                    0.5, 0.25, 1.0,
                    0.75)), // inter 0.125, union 0.375: IoU 1/3; center (0.75, 0.5) on the edge
            ok(
                "c",
                box(0.9, 0.9, 1.2, 1.3)), // outside the image and the truth: IoU 0, center outside
            ok("d", span(1, 2))); // no box: unparseable
    Scores.TaskScores t = Scores.of(samples, preds).get(0);
    assertThat(t.unparseable()).isEqualTo(1);
    assertThat(t.llavaSt().get("mIoU")).isCloseTo((1 + 1.0 / 3) / 3, within(1e-9));
    assertThat(t.llavaSt().get("R1@0.5")).isCloseTo(100.0 / 3, within(1e-9));
    assertThat(t.lmmsEval().get("IoU")).isCloseTo((1 + 1.0 / 3) / 4, within(1e-9));
    assertThat(t.lmmsEval().get("ACC@0.3")).isCloseTo(50.0, within(1e-9));
    assertThat(t.lmmsEval().get("ACC@0.5")).isCloseTo(25.0, within(1e-9));
    assertThat(t.lmmsEval().get("ACC@0.9")).isCloseTo(25.0, within(1e-9));
    assertThat(t.lmmsEval().get("Center_ACC")).isCloseTo(50.0, within(1e-9));
  }

  @Test
  void stvgTemporalSpatialAndVolumeIouOnTheSampledFrames() {
    // clip [0, 99]: bin k is frame k; truth span [0.2, 0.4] with boxes on frames 20 and 21
    EvalSample s =
        new EvalSample(
            "stvg#0",
            Task.TASK_FREE_FORM,
            Path.of("v"),
            "q",
            new int[] {0, 99},
            new EvalSample.StTruth(
                0.2,
                0.4,
                Map.of(20, new double[] {0, 0, 10, 10}, 21, new double[] {0, 0, 10, 10}),
                100,
                100));
    JsonNode pred =
        json("{\"type\":\"span\",\"start\":{\"normalized\":0.2},\"end\":{\"normalized\":0.3}}");
    JsonNode tb20 =
        json(
            "{\"type\":\"timed_box\",\"time\":{\"bin\":20},\"box\":{\"x1_px\":0,\"y1_px\":0,"
                + "\"x2_px\":10,\"y2_px\":5}}"); // IoU 0.5 on frame 20
    JsonNode tb30 =
        json(
            "{\"type\":\"timed_box\",\"time\":{\"bin\":30},\"box\":{\"x1_px\":0,\"y1_px\":0,"
                + "\"x2_px\":10,\"y2_px\":10}}"); // frame 30 has no truth
    double[] r = Scores.stIous("STVG", s, ok("stvg#0", pred, tb20, tb30));
    assertThat(r[0]).isCloseTo(0.5, within(1e-9)); // [0.2, 0.3] vs [0.2, 0.4]
    assertThat(r[1]).isCloseTo(0.5, within(1e-9)); // one frame in both
    assertThat(r[2]).isCloseTo(0.5 / 3, within(1e-9)); // frames 20, 21, 30 in either
    Scores.TaskScores t = Scores.of(List.of(s), List.of(ok("stvg#0", pred, tb20, tb30))).get(0);
    assertThat(t.llavaSt().get("m_vIoU")).isCloseTo(0.5 / 3, within(1e-9));
    assertThat(t.llavaSt().get("vIoU@0.3")).isZero();
    assertThat(t.lmmsEval()).isEmpty();
  }

  @Test
  void missingMediaIsLeftOutAndCounted() {
    List<EvalSample> samples = List.of(tvg("a", 0, 10), tvg("b", 0, 10));
    Scores.TaskScores t =
        Scores.of(samples, List.of(ok("a", span(0, 10)), Prediction.missingMedia(samples.get(1))))
            .get(0);
    assertThat(t.samples()).isEqualTo(1);
    assertThat(t.missingMedia()).isEqualTo(1);
    assertThat(t.llavaSt().get("mIoU")).isEqualTo(1.0);
  }
}

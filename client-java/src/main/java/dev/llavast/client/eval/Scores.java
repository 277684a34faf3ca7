package dev.llavast.client.eval;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The paper's metrics from predictions, in the two conventions that circulate:
 *
 * <ul>
 *   <li><b>LLaVA-ST's scripts</b>: TVG mIoU over all samples (unparseable = IoU 0) and R@1 at IoU
 *       strictly above 0.3 / 0.5 / 0.7; REC mIoU and R1@0.5 (IoU &ge; 0.5) over the parseable
 *       answers only; STVG / SVG / ELC m_tIoU, m_sIoU, m_vIoU and vIoU@0.3 / 0.5 (&ge;) over all
 *       samples.
 *   <li><b>lmms-eval's</b>: TVG R@1 at IoU &ge; 0.3 / 0.5 / 0.7 and mIoU over all samples (in
 *       seconds when the data set is); REC mean IoU, ACC@0.1…0.9 (IoU &ge; t) and center accuracy
 *       over all samples, an unparseable answer being an empty box.
 * </ul>
 *
 * Failed requests count as unparseable; samples whose media file is missing are left out. Every
 * report states the counts. Percentages are in [0, 100]; IoU means in [0, 1]. Stateless.
 */
public final class Scores {
  private Scores() {}

  /**
   * A task's scores.
   *
   * @param samples samples scored (missing media excluded)
   * @param unparseable answers without the task's coordinates (failed requests included)
   * @param failed requests the server refused or failed, by error code
   * @param missingMedia samples whose media file was missing
   * @param llavaSt metrics in LLaVA-ST's convention
   * @param lmmsEval metrics in lmms-eval's convention (empty when it has none for the task)
   * @param ious the per-sample IoU the histogram shows (tIoU, box IoU or vIoU)
   */
  public record TaskScores(
      String task,
      int samples,
      int unparseable,
      Map<String, Integer> failed,
      int missingMedia,
      Map<String, Double> llavaSt,
      Map<String, Double> lmmsEval,
      List<Double> ious) {}

  /** Scores every task present in {@code predictions}, matched to {@code samples} by id. */
  public static List<TaskScores> of(List<EvalSample> samples, List<Prediction> predictions) {
    Map<String, Prediction> byId = new LinkedHashMap<>();
    predictions.forEach(p -> byId.put(p.id(), p));
    Map<String, List<EvalSample>> byKind = new TreeMap<>();
    for (EvalSample s : samples) {
      if (byId.containsKey(s.id())) {
        byKind.computeIfAbsent(kind(s), k -> new ArrayList<>()).add(s);
      }
    }
    List<TaskScores> out = new ArrayList<>();
    byKind.forEach((kind, list) -> out.add(score(kind, list, byId)));
    return out;
  }

  private static String kind(EvalSample s) {
    if (s.truth() instanceof EvalSample.SpanTruth) {
      return "TVG";
    }
    if (s.truth() instanceof EvalSample.BoxTruth) {
      return "REC";
    }
    return s.id().substring(0, s.id().indexOf('#')).toUpperCase(java.util.Locale.ROOT);
  }

  private static TaskScores score(
      String kind, List<EvalSample> samples, Map<String, Prediction> byId) {
    Map<String, Integer> failed = new TreeMap<>();
    int missing = 0;
    List<EvalSample> scored = new ArrayList<>();
    for (EvalSample s : samples) {
      Prediction p = predictionFor(byId, s);
      if (p.status().equals("missing_media")) {
        missing++;
        continue;
      }
      if (p.status().equals("failed")) {
        String code =
            p.error().contains(":") ? p.error().substring(0, p.error().indexOf(':')) : p.error();
        failed.merge(code, 1, Integer::sum);
      }
      scored.add(s);
    }
    return switch (kind) {
      case "TVG" -> tvg(kind, scored, byId, failed, missing);
      case "REC" -> rec(kind, scored, byId, failed, missing);
      default -> st(kind, scored, byId, failed, missing);
    };
  }

  // ------------------------------------------------------------------------------ TVG

  /** The IoU of the answer's first span with the truth; -1 when there is no span. */
  static double tvgIou(EvalSample.SpanTruth t, Prediction p) {
    JsonNode span = p.ok() ? p.first("span") : null;
    if (span == null) {
      return -1;
    }
    String unit = t.seconds() ? "seconds" : "normalized";
    return Iou.temporal(
        span.at("/start/" + unit).asDouble(),
        span.at("/end/" + unit).asDouble(),
        t.start(),
        t.end());
  }

  private static TaskScores tvg(
      String kind,
      List<EvalSample> samples,
      Map<String, Prediction> byId,
      Map<String, Integer> failed,
      int missing) {
    int n = samples.size();
    int unparseable = 0;
    double sum = 0;
    int[] strict = new int[3];
    int[] atLeast = new int[3];
    double[] th = {0.3, 0.5, 0.7};
    List<Double> ious = new ArrayList<>();
    for (EvalSample s : samples) {
      double iou = tvgIou((EvalSample.SpanTruth) s.truth(), predictionFor(byId, s));
      if (iou < 0) {
        unparseable++;
        iou = 0;
      }
      ious.add(iou);
      sum += iou;
      for (int k = 0; k < 3; k++) {
        strict[k] += iou > th[k] ? 1 : 0;
        atLeast[k] += iou >= th[k] ? 1 : 0;
      }
    }
    Map<String, Double> llava = new LinkedHashMap<>();
    llava.put("mIoU", n == 0 ? 0 : sum / n);
    Map<String, Double> lmms = new LinkedHashMap<>();
    for (int k = 0; k < 3; k++) {
      llava.put("R@1,IoU>" + th[k], pct(strict[k], n));
      lmms.put("R@1,IoU>=" + th[k], pct(atLeast[k], n));
    }
    lmms.put("mIoU", n == 0 ? 0 : sum / n);
    return new TaskScores(kind, n, unparseable, failed, missing, llava, lmms, ious);
  }

  /** The prediction of a sample; every sample scored has one (missing ones are recorded). */
  private static Prediction predictionFor(Map<String, Prediction> byId, EvalSample s) {
    Prediction p = byId.get(s.id());
    if (p == null) {
      throw new IllegalArgumentException("no prediction for sample " + s.id());
    }
    return p;
  }

  // ------------------------------------------------------------------------------ REC

  /** The answer's first box, normalized {@code [x1, y1, x2, y2]}, or null. */
  static double @Nullable [] recBox(Prediction p) {
    JsonNode b = p.ok() ? p.first("box") : null;
    if (b == null) {
      return null;
    }
    return new double[] {
      b.at("/box/x1_normalized").asDouble(),
      b.at("/box/y1_normalized").asDouble(),
      b.at("/box/x2_normalized").asDouble(),
      b.at("/box/y2_normalized").asDouble()
    };
  }

  private static TaskScores rec(
      String kind,
      List<EvalSample> samples,
      Map<String, Prediction> byId,
      Map<String, Integer> failed,
      int missing) {
    int n = samples.size();
    int parsed = 0;
    double sumParsed = 0;
    int r5 = 0;
    double sumAll = 0;
    int center = 0;
    int[] acc = new int[9];
    List<Double> ious = new ArrayList<>();
    for (EvalSample s : samples) {
      EvalSample.BoxTruth t = (EvalSample.BoxTruth) s.truth();
      double[] gt = {t.x1(), t.y1(), t.x2(), t.y2()};
      double[] pred = recBox(predictionFor(byId, s));
      double iou = pred == null ? 0 : Iou.box(gt, pred);
      ious.add(iou);
      sumAll += iou;
      for (int k = 0; k < 9; k++) {
        acc[k] += iou >= (k + 1) / 10.0 ? 1 : 0;
      }
      if (pred != null) {
        parsed++;
        sumParsed += iou;
        r5 += iou >= 0.5 ? 1 : 0;
        double cx = (pred[0] + pred[2]) / 2;
        double cy = (pred[1] + pred[3]) / 2;
        center += cx >= gt[0] && cx <= gt[2] && cy >= gt[1] && cy <= gt[3] ? 1 : 0;
      }
    }
    Map<String, Double> llava = new LinkedHashMap<>();
    llava.put("mIoU", parsed == 0 ? 0 : sumParsed / parsed);
    llava.put("R1@0.5", pct(r5, parsed));
    Map<String, Double> lmms = new LinkedHashMap<>();
    lmms.put("IoU", n == 0 ? 0 : sumAll / n);
    for (int k = 0; k < 9; k++) {
      lmms.put("ACC@0." + (k + 1), pct(acc[k], n));
    }
    lmms.put("Center_ACC", pct(center, n));
    return new TaskScores(kind, n, n - parsed, failed, missing, llava, lmms, ious);
  }

  // ------------------------------------------------------------------------------ ST-Align

  /**
   * {tIoU, sIoU, vIoU, parsed (1 or 0)} of one spatio-temporal answer. Predicted boxes are placed
   * on the original frame of their time bin ({@code s + rint(k/99 * (e - s))}) in whole pixels, as
   * the reference does; sIoU averages over frames in both, vIoU divides the same sum by the frames
   * in either. ELC's end time is scored as the span from the given start to the predicted end.
   */
  static double[] stIous(String kind, EvalSample s, Prediction p) {
    EvalSample.StTruth t = (EvalSample.StTruth) s.truth();
    if (!p.ok()) {
      return new double[] {0, 0, 0, 0};
    }
    int[] clip = Objects.requireNonNull(s.clip(), "spatio-temporal samples carry a clip");
    int first = clip[0];
    int last = clip[1];
    Map<Integer, double[]> pred = new TreeMap<>();
    for (JsonNode tb : p.all("timed_box")) {
      int frame =
          first
              + (int)
                  Math.rint(
                      tb.at("/time/bin").asInt() / (double) (Datasets.FRAMES - 1) * (last - first));
      JsonNode b = tb.get("box");
      pred.putIfAbsent(
          frame,
          new double[] {
            Math.rint(b.get("x1_px").asDouble()),
            Math.rint(b.get("y1_px").asDouble()),
            Math.rint(b.get("x2_px").asDouble()),
            Math.rint(b.get("y2_px").asDouble())
          });
    }
    double tiou = 0;
    boolean parsed = !pred.isEmpty();
    if (kind.equals("STVG")) {
      JsonNode span = p.first("span");
      parsed &= span != null;
      tiou =
          span == null
              ? 0
              : Iou.temporal(
                  span.at("/start/normalized").asDouble(),
                  span.at("/end/normalized").asDouble(),
                  t.start(),
                  t.end());
    } else if (kind.equals("ELC")) {
      JsonNode end = p.first("time");
      parsed &= end != null;
      tiou =
          end == null
              ? 0
              : Iou.temporal(t.start(), end.at("/time/normalized").asDouble(), t.start(), t.end());
    }
    double sum = 0;
    int inter = 0;
    java.util.Set<Integer> union = new java.util.TreeSet<>(t.boxes().keySet());
    union.addAll(pred.keySet());
    for (Map.Entry<Integer, double[]> e : pred.entrySet()) {
      double[] gt = t.boxes().get(e.getKey());
      if (gt != null) {
        sum += Iou.box(gt, e.getValue());
        inter++;
      }
    }
    return new double[] {
      tiou, sum / Math.max(inter, 1), sum / Math.max(union.size(), 1), parsed ? 1 : 0
    };
  }

  private static TaskScores st(
      String kind,
      List<EvalSample> samples,
      Map<String, Prediction> byId,
      Map<String, Integer> failed,
      int missing) {
    int n = samples.size();
    double[] sums = new double[3];
    int[] v = new int[2];
    int unparseable = 0;
    List<Double> ious = new ArrayList<>();
    for (EvalSample s : samples) {
      double[] r = stIous(kind, s, predictionFor(byId, s));
      for (int k = 0; k < 3; k++) {
        sums[k] += r[k];
      }
      v[0] += r[2] >= 0.3 ? 1 : 0;
      v[1] += r[2] >= 0.5 ? 1 : 0;
      unparseable += r[3] == 0 ? 1 : 0;
      ious.add(r[2]);
    }
    Map<String, Double> llava = new LinkedHashMap<>();
    if (!kind.equals("SVG")) {
      llava.put("m_tIoU", n == 0 ? 0 : sums[0] / n);
    }
    llava.put("m_sIoU", n == 0 ? 0 : sums[1] / n);
    llava.put("m_vIoU", n == 0 ? 0 : sums[2] / n);
    llava.put("vIoU@0.3", pct(v[0], n));
    llava.put("vIoU@0.5", pct(v[1], n));
    return new TaskScores(kind, n, unparseable, failed, missing, llava, Map.of(), ious);
  }

  private static double pct(int k, int n) {
    return n == 0 ? 0 : 100.0 * k / n;
  }
}

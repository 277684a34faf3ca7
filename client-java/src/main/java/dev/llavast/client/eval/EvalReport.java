package dev.llavast.client.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.llavast.api.v1.ModelInfo;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * An evaluation's report: the server and model it ran against (from {@code GetModelInfo}, {@code
 * random_weights_demo} included), the settings, and per task the counts and both conventions'
 * metrics; as a terminal table, as JSON, and as a PNG histogram of per-sample IoU.
 *
 * @param target the server's address
 * @param settings what was run (data set, sampling, limits)
 */
public record EvalReport(
    String target, ModelInfo model, Map<String, Object> settings, List<Scores.TaskScores> tasks) {

  /** The table printed at the end of a run. */
  public String table() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "# %s on %s%s%n",
            model.getModelName(),
            target,
            model.getRandomWeightsDemo()
                ? " (RANDOM-WEIGHT DEMO: scores are chance level, not the paper's)"
                : ""));
    sb.append("# settings ").append(settings).append(System.lineSeparator());
    for (Scores.TaskScores t : tasks) {
      sb.append(
          String.format(
              Locale.ROOT,
              "%s: %d samples, %d unparseable, failed %s, %d missing media%n",
              t.task(),
              t.samples(),
              t.unparseable(),
              t.failed(),
              t.missingMedia()));
      sb.append("  LLaVA-ST scripts: ").append(format(t.llavaSt())).append(System.lineSeparator());
      if (!t.lmmsEval().isEmpty()) {
        sb.append("  lmms-eval:        ")
            .append(format(t.lmmsEval()))
            .append(System.lineSeparator());
      }
    }
    return sb.toString();
  }

  private static String format(Map<String, Double> m) {
    StringBuilder sb = new StringBuilder();
    // means of IoU in [0, 1] with three decimals, percentages with two
    m.forEach(
        (k, v) ->
            sb.append(
                String.format(
                    Locale.ROOT,
                    k.startsWith("m") || k.equals("IoU") ? "%s %.3f  " : "%s %.2f%%  ",
                    k,
                    v)));
    return sb.toString().strip();
  }

  /** The report as JSON. */
  public ObjectNode json() {
    ObjectNode root = Prediction.JSON.createObjectNode();
    root.put("target", target);
    try {
      root.set(
          "model",
          Prediction.JSON.readTree(JsonFormat.printer().preservingProtoFieldNames().print(model)));
    } catch (InvalidProtocolBufferException
        | com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("model info did not print as JSON", e);
    }
    root.set("settings", Prediction.JSON.valueToTree(settings));
    var arr = root.putArray("tasks");
    for (Scores.TaskScores t : tasks) {
      ObjectNode o = arr.addObject();
      o.put("task", t.task())
          .put("samples", t.samples())
          .put("unparseable", t.unparseable())
          .put("missing_media", t.missingMedia());
      o.set("failed", Prediction.JSON.valueToTree(t.failed()));
      o.set("llava_st", Prediction.JSON.valueToTree(t.llavaSt()));
      o.set("lmms_eval", Prediction.JSON.valueToTree(t.lmmsEval()));
    }
    return root;
  }

  /** A PNG with one IoU histogram (20 bins over [0, 1]) per task. */
  public void plot(Path png) throws IOException {
    int w = 640;
    int h = 220 * Math.max(1, tasks.size());
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    for (int t = 0; t < tasks.size(); t++) {
      Scores.TaskScores ts = tasks.get(t);
      int[] bins = new int[20];
      for (double v : ts.ious()) {
        bins[Math.min(19, (int) (v * 20))]++;
      }
      int max = 1;
      for (int b : bins) {
        max = Math.max(max, b);
      }
      int top = t * 220 + 30;
      int base = top + 160;
      g.setColor(Color.BLACK);
      g.drawString(ts.task() + ": per-sample IoU (" + ts.samples() + " samples)", 40, top - 10);
      g.drawLine(40, base, 600, base);
      g.drawString("0", 36, base + 14);
      g.drawString("1", 596, base + 14);
      g.setColor(new Color(70, 110, 180));
      for (int b = 0; b < 20; b++) {
        int bh = (int) Math.round(150.0 * bins[b] / max);
        g.fillRect(42 + b * 28, base - bh, 24, bh);
      }
    }
    g.dispose();
    ImageIO.write(img, "png", png.toFile());
  }
}

package dev.llavast.client.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.llavast.api.v1.Task;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads the benchmark files the LLaVA-ST evaluation reads, as {@link EvalSample}s. Nothing is
 * downloaded: the annotation file and the media folder are the user's. A malformed file fails at
 * once with the line or field at fault ({@link DatasetException}); a media file that is missing is
 * not an error here (the runner counts and reports it).
 *
 * <ul>
 *   <li>{@code charades}: Charades-STA raw lines {@code VID start end##sentence} (seconds), videos
 *       {@code <folder>/VID.mp4};
 *   <li>{@code tvg-json}: LLaVA-ST's TVG JSON, {@code [{image_id, caption, timestamp: [s, e]}]}
 *       with fractions of the video, videos {@code <folder>/<image_id>};
 *   <li>{@code refcoco}: the COCO-style layout of RefCOCO/+/g, {@code images[{id, file_name,
 *       height, width, caption}]} and {@code annotations[{id, bbox: [x, y, w, h]}]} paired in
 *       order;
 *   <li>{@code stvg}, {@code svg}, {@code elc}: the ST-Align benchmark JSON, {@code [{video_path,
 *       meta: {width, height, split: [s, e], time_token: {"<s>": f, "<e>": f}, spatial_token:
 *       {"<bboxes>": {frame: [x, y, w, h]}, ...}}, conversations: [{value: prompt}, {value:
 *       answer}]}]} with frame numbers.
 * </ul>
 *
 * Stateless; any thread.
 */
public final class Datasets {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The question template LLaVA-ST's script appends to an ST-Align prompt, per task. */
  private static final Map<String, String> ST_INSTRUCTIONS =
      Map.of(
          "stvg",
              "Please firstly give the timestamps, and then give the spatial bounding box corresponding to each "
                  + "timestamp in the time period.",
          "svg",
              "Please give the spatial bounding box corresponding to each timestamp in the time period.",
          "elc",
              "Please firstly give the end timestamp, then give the event associated with the object/subject, "
                  + "finally give the spatial bounding box corresponding to each timestamp in the time period.");

  /** Frames the model samples from a clip (spec §1.1). */
  static final int FRAMES = 100;

  private Datasets() {}

  /** A data set file that cannot be read as its format says. */
  public static final class DatasetException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DatasetException(String message) {
      super(message);
    }
  }

  /** The formats {@link #load} reads. */
  public static final List<String> FORMATS =
      List.of("charades", "tvg-json", "refcoco", "stvg", "svg", "elc");

  /** Reads {@code annotations} in {@code format}, media under {@code mediaDir}. */
  public static List<EvalSample> load(String format, Path annotations, Path mediaDir)
      throws IOException {
    return switch (format.toLowerCase(Locale.ROOT)) {
      case "charades" -> charades(annotations, mediaDir);
      case "tvg-json" -> tvgJson(annotations, mediaDir);
      case "refcoco" -> refcoco(annotations, mediaDir);
      case "stvg", "svg", "elc" -> stAlign(format.toLowerCase(Locale.ROOT), annotations, mediaDir);
      default ->
          throw new DatasetException("unknown data set format '" + format + "'; one of " + FORMATS);
    };
  }

  static List<EvalSample> charades(Path file, Path videos) throws IOException {
    List<EvalSample> out = new ArrayList<>();
    List<String> lines = Files.readAllLines(file);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty()) {
        continue;
      }
      String where = file.getFileName() + ":" + (i + 1);
      int hash = line.indexOf("##");
      String[] head = (hash < 0 ? "" : line.substring(0, hash)).trim().split("\\s+");
      if (hash < 0 || head.length != 3) {
        throw new DatasetException(
            where + ": expected 'VIDEO START END##sentence', got '" + abbreviate(line) + "'");
      }
      double start = number(head[1], where + " start");
      double end = number(head[2], where + " end");
      if (!(end >= start) || start < 0) {
        throw new DatasetException(
            where + ": the span " + start + " - " + end + " is not an interval of seconds");
      }
      String sentence = line.substring(hash + 2).strip();
      out.add(
          new EvalSample(
              head[0] + "#" + (i + 1),
              Task.TASK_TVG,
              videos.resolve(head[0] + ".mp4"),
              tvgQuery(sentence),
              null,
              new EvalSample.SpanTruth(start, end, true)));
    }
    return out;
  }

  static List<EvalSample> tvgJson(Path file, Path videos) throws IOException {
    JsonNode root = read(file);
    List<EvalSample> out = new ArrayList<>();
    for (int i = 0; i < root.size(); i++) {
      JsonNode d = root.get(i);
      String where = file.getFileName() + " [" + i + "]";
      String video = text(d, "image_id", where);
      JsonNode ts = d.get("timestamp");
      if (ts == null
          || !ts.isArray()
          || ts.size() != 2
          || !ts.get(0).isNumber()
          || !ts.get(1).isNumber()) {
        throw new DatasetException(
            where + ".timestamp: expected [start, end] as fractions of the video");
      }
      out.add(
          new EvalSample(
              video + "#" + i,
              Task.TASK_TVG,
              videos.resolve(video.replaceFirst("^v_", "")),
              tvgQuery(text(d, "caption", where)),
              null,
              new EvalSample.SpanTruth(ts.get(0).asDouble(), ts.get(1).asDouble(), false)));
    }
    return out;
  }

  /**
   * The event as LLaVA-ST's script phrases it (trailing full stops and spaces removed, lower case).
   */
  private static String tvgQuery(String sentence) {
    return sentence.strip().replaceAll("\\.+$", "").strip().toLowerCase(Locale.ROOT);
  }

  static List<EvalSample> refcoco(Path file, Path images) throws IOException {
    JsonNode root = read(file);
    JsonNode imgs = root.get("images");
    JsonNode anns = root.get("annotations");
    if (imgs == null || !imgs.isArray() || anns == null || !anns.isArray()) {
      throw new DatasetException(
          file.getFileName() + ": expected 'images' and 'annotations' arrays");
    }
    if (imgs.size() != anns.size()) {
      throw new DatasetException(
          file.getFileName()
              + ": "
              + imgs.size()
              + " images but "
              + anns.size()
              + " annotations (they are paired in order)");
    }
    List<EvalSample> out = new ArrayList<>();
    for (int i = 0; i < imgs.size(); i++) {
      JsonNode im = imgs.get(i);
      JsonNode an = anns.get(i);
      String where = file.getFileName() + " images[" + i + "]";
      if (!im.path("id").equals(an.path("id"))) {
        throw new DatasetException(
            where
                + ".id "
                + im.path("id")
                + " does not match annotations["
                + i
                + "].id "
                + an.path("id"));
      }
      int w = (int) number(im, "width", where);
      int h = (int) number(im, "height", where);
      JsonNode bb = an.get("bbox");
      if (bb == null || !bb.isArray() || bb.size() != 4) {
        throw new DatasetException(
            file.getFileName() + " annotations[" + i + "].bbox: expected [x, y, w, h]");
      }
      if (w <= 0 || h <= 0) {
        throw new DatasetException(where + ": width and height must be > 0");
      }
      double x = bb.get(0).asDouble();
      double y = bb.get(1).asDouble();
      double[] n = {x / w, y / h, (x + bb.get(2).asDouble()) / w, (y + bb.get(3).asDouble()) / h};
      for (int k = 0; k < 4; k++) {
        n[k] =
            Math.min(
                1,
                Math.max(
                    0, Math.round(n[k] * 1000) / 1000.0)); // as the reference: 3 decimals, clipped
      }
      out.add(
          new EvalSample(
              im.path("id").asText() + "#" + i,
              Task.TASK_REC,
              images.resolve(text(im, "file_name", where)),
              text(im, "caption", where),
              null,
              new EvalSample.BoxTruth(n[0], n[1], n[2], n[3], w, h)));
    }
    return out;
  }

  static List<EvalSample> stAlign(String task, Path file, Path videos) throws IOException {
    JsonNode root = read(file);
    List<EvalSample> out = new ArrayList<>();
    for (int i = 0; i < root.size(); i++) {
      JsonNode d = root.get(i);
      String where = file.getFileName() + " [" + i + "]";
      JsonNode meta = d.path("meta");
      int w = (int) number(meta, "width", where + ".meta");
      int h = (int) number(meta, "height", where + ".meta");
      JsonNode split = meta.get("split");
      if (split == null || !split.isArray() || split.size() != 2) {
        throw new DatasetException(where + ".meta.split: expected [first frame, last frame]");
      }
      int s = split.get(0).asInt();
      int e = split.get(1).asInt();
      if (e <= s) {
        throw new DatasetException(where + ".meta.split: the last frame must come after the first");
      }
      double span = e - s;
      Map<String, String> tokens = new HashMap<>();
      Map<String, Integer> times = new HashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = meta.path("time_token").fields();
          it.hasNext(); ) {
        Map.Entry<String, JsonNode> t = it.next();
        times.put(t.getKey(), t.getValue().asInt());
        tokens.put(t.getKey(), "<t" + round3((t.getValue().asInt() - s) / span) + ">");
      }
      Map<Integer, double[]> boxes = new HashMap<>();
      List<Integer> sampled = sampledFrames(s, e);
      for (Iterator<Map.Entry<String, JsonNode>> it = meta.path("spatial_token").fields();
          it.hasNext(); ) {
        Map.Entry<String, JsonNode> t = it.next();
        JsonNode v = t.getValue();
        if (v.isArray() && v.size() == 4) { // a box given in the prompt
          double[] b = xyxy(v);
          tokens.put(
              t.getKey(),
              "[<w"
                  + round3(b[0] / w)
                  + ">,<h"
                  + round3(b[1] / h)
                  + ">,<w"
                  + round3(b[2] / w)
                  + ">,<h"
                  + round3(b[3] / h)
                  + ">]");
        } else if (v.isObject() && t.getKey().equals("<bboxes>")) { // the answer's boxes, by frame
          for (Iterator<Map.Entry<String, JsonNode>> f = v.fields(); f.hasNext(); ) {
            Map.Entry<String, JsonNode> fb = f.next();
            int frame = (int) number(fb.getKey(), where + ".meta.spatial_token.<bboxes> key");
            if (sampled.contains(frame)) {
              boxes.put(frame, xyxy(fb.getValue()));
            }
          }
        }
      }
      String prompt = d.path("conversations").path(0).path("value").asText(null);
      if (prompt == null) {
        throw new DatasetException(where + ".conversations[0].value: the question is missing");
      }
      prompt =
          prompt
              .replace("<image>\n", "")
              .replace("<video>\n", "")
              .replace("From <s> to <e>", "During the period {<s>,<e>}");
      for (Map.Entry<String, String> t : tokens.entrySet()) {
        prompt = prompt.replace(t.getKey(), t.getValue());
      }
      prompt = prompt + ST_INSTRUCTIONS.get(task);
      boolean timed = !task.equals("svg");
      if (timed && (!times.containsKey("<s>") || !times.containsKey("<e>"))) {
        throw new DatasetException(where + ".meta.time_token: " + task + " needs <s> and <e>");
      }
      double ts = timed ? round3((times.getOrDefault("<s>", 0) - s) / span) : Double.NaN;
      double te = timed ? round3((times.getOrDefault("<e>", 0) - s) / span) : Double.NaN;
      out.add(
          new EvalSample(
              task + "#" + i,
              Task.TASK_FREE_FORM,
              videos.resolve(text(d, "video_path", where)),
              prompt,
              new int[] {s, e},
              new EvalSample.StTruth(ts, te, boxes, w, h)));
    }
    return out;
  }

  /** The original frames the model sees of clip {@code [s, e]} (spec §1.1). */
  static List<Integer> sampledFrames(int s, int e) {
    List<Integer> f = new ArrayList<>(FRAMES);
    for (int i = 0; i < FRAMES; i++) {
      f.add(s + (int) Math.rint(i / (double) (FRAMES - 1) * (e - s)));
    }
    return f;
  }

  private static double[] xyxy(JsonNode v) {
    double x = v.get(0).asDouble();
    double y = v.get(1).asDouble();
    return new double[] {x, y, x + v.get(2).asDouble(), y + v.get(3).asDouble()};
  }

  private static double round3(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  private static JsonNode read(Path file) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new DatasetException(
          file.getFileName()
              + ": not valid JSON at line "
              + e.getLocation().getLineNr()
              + ", column "
              + e.getLocation().getColumnNr());
    }
    if (root == null || !(root.isArray() || root.isObject())) {
      throw new DatasetException(file.getFileName() + ": expected a JSON array or object");
    }
    return root;
  }

  private static String text(JsonNode d, String field, String where) {
    JsonNode v = d.get(field);
    if (v == null || !v.isTextual() || v.asText().isBlank()) {
      throw new DatasetException(where + "." + field + ": missing or not a string");
    }
    return v.asText();
  }

  private static double number(JsonNode d, String field, String where) {
    JsonNode v = d.get(field);
    if (v == null || !v.isNumber()) {
      throw new DatasetException(where + "." + field + ": missing or not a number");
    }
    return v.asDouble();
  }

  private static double number(String s, String where) {
    try {
      return Double.parseDouble(s);
    } catch (NumberFormatException e) {
      throw new DatasetException(where + ": '" + s + "' is not a number");
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 57) + "...";
  }
}

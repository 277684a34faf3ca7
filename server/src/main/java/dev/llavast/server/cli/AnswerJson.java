package dev.llavast.server.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.Coordinate;
import dev.llavast.models.coords.CoordinateFormat;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.TaskResult;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.FinalAnswer;
import dev.llavast.server.generation.Sampling;
import dev.llavast.server.media.MediaGeometry;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The {@code generate} command's output: a {@link FinalAnswer} as one JSON object with a stable key
 * order (what a reference implementation compares token by token), or as text with coordinates
 * rendered as decimals. Stateless; any thread.
 */
final class AnswerJson {
  private static final ObjectMapper JSON =
      new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

  private AnswerJson() {}

  /**
   * What the command knows about the run besides the answer.
   *
   * @param mediaPath the media flag's path
   * @param modelDir the checkpoint directory
   * @param prefillChunk the engine's token budget per step (the prefill chunk of a request alone)
   * @param loadNanos opening the model and starting the engine
   * @param totalNanos the whole command, model load included
   */
  record Run(
      String mediaPath,
      String modelDir,
      Engine engine,
      String prompt,
      @Nullable String systemPrompt,
      Sampling sampling,
      int prefillChunk,
      long loadNanos,
      long totalNanos) {}

  /** The answer's text with every coordinate group rendered as decimals. */
  static String renderText(FinalAnswer a) {
    return CoordinateFormat.render(a.pieces());
  }

  /** Every coordinate group, rendered, separated by {@code "; "}. */
  static String renderGroups(FinalAnswer a) {
    List<String> groups = new ArrayList<>();
    for (Piece p : a.pieces()) {
      if (!(p instanceof Piece.Text)) {
        groups.add(CoordinateFormat.render(p));
      }
    }
    return String.join("; ", groups);
  }

  static String of(FinalAnswer a, Run run) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    root.put("text", a.text());
    root.set("token_ids", ints(a.tokenIds()));
    root.put("finish_reason", a.finish().name().toLowerCase(Locale.ROOT));
    if (a.stopTokenId() >= 0) {
      root.put("stop_token_id", a.stopTokenId());
    } else {
      root.putNull("stop_token_id");
    }
    ArrayNode lp = root.putArray("logprobs");
    for (float f : a.logprobs()) {
      number(lp, f);
    }
    if (a.stopTokenId() >= 0) {
      number(lp, a.stopLogprob());
    }
    root.set("coordinates", coordinatesJson(a.pieces()));
    root.put("text_rendered", renderText(a));
    root.put("coordinates_rendered", renderGroups(a));
    root.set("result", resultJson(a.result()));
    root.set("media", mediaJson(a, run.mediaPath()));
    RenderedPrompt rendered = a.prompt();
    ObjectNode p = root.putObject("prompt");
    p.put("text", run.prompt());
    p.put("question", a.question());
    p.put(
        "system_prompt",
        run.systemPrompt() == null || run.systemPrompt().isEmpty()
            ? ChatTemplate.DEFAULT_SYSTEM_PROMPT
            : run.systemPrompt());
    p.put("media_start", rendered.mediaStart());
    p.put("visual_start", rendered.visualStart());
    p.put("visual_length", rendered.visualLength());
    ArrayNode values = p.putArray("value_tokens");
    for (PromptInput.ValueToken v : rendered.valueTokens()) {
      ObjectNode o = values.addObject();
      o.put("position", v.position());
      o.put("token_id", rendered.tokenIds()[v.position()]);
      number(o, "value", v.value());
    }
    p.set("token_ids", ints(rendered.tokenIds()));
    Sampling s = run.sampling();
    ObjectNode sm = root.putObject("sampling");
    sm.put("greedy", s.temperature() == 0f);
    number(sm, "temperature", s.temperature());
    number(sm, "top_p", s.topP());
    sm.put("top_k", s.topK());
    number(sm, "repetition_penalty", s.repetitionPenalty());
    sm.put("seed", s.seed() == null ? 0L : s.seed());
    sm.put("max_new_tokens", s.maxNewTokens());
    sm.set("stop_token_ids", ints(run.engine().model().stopTokenIds()));
    ArrayNode stops = sm.putArray("stop");
    s.stops().forEach(stops::add);
    ModelConfig cfg = run.engine().modelConfig();
    ObjectNode m = root.putObject("model");
    m.put("dir", run.modelDir());
    m.put("device", String.join(",", run.engine().devices()));
    m.put("dtype", run.engine().dtype());
    m.put("cpu_threads", 1); // the engine gives each CPU worker one intra-op thread
    m.put("fix_width_input", false); // the engine reproduces the release's <WIDTH-INPUT> handling
    m.put("vocab_size", cfg.vocabSize());
    m.put("extended_vocab_size", cfg.extendedVocabSize());
    m.put("hidden_size", cfg.hiddenSize());
    m.put("num_hidden_layers", cfg.numHiddenLayers());
    FinalAnswer.Usage usage = a.usage();
    ObjectNode u = root.putObject("usage");
    u.put("prompt_tokens", usage.promptTokens());
    u.put("visual_tokens", usage.visualTokens());
    u.put("cached_tokens", usage.cachedTokens());
    u.put("generated_tokens", a.tokenIds().length);
    u.put("sampled_tokens", usage.generatedTokens());
    // a request alone is prefilled in chunks of the step budget, then decoded one token per step
    int uncached = usage.promptTokens() - usage.cachedTokens();
    u.put("prefill_steps", (uncached + run.prefillChunk() - 1) / run.prefillChunk());
    u.put("decode_steps", Math.max(0, usage.generatedTokens() - 1));
    FinalAnswer.Timings t = a.timings();
    ObjectNode tj = root.putObject("timings");
    tj.put("load_model_s", seconds(run.loadNanos()));
    tj.put("queue_s", round(t.queue()));
    tj.put("decode_media_s", round(t.mediaDecode()));
    tj.put("encode_s", round(t.encode()));
    tj.put("prefill_s", round(t.prefill()));
    tj.put("decode_s", round(t.decode()));
    tj.put("total_s", seconds(run.totalNanos()));
    try {
      return JSON.writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serializes", e);
    }
  }

  /** Every non-text piece, in answer order, as JSON. */
  static ArrayNode coordinatesJson(List<? extends Piece> pieces) {
    ArrayNode arr = JsonNodeFactory.instance.arrayNode();
    for (Piece p : pieces) {
      if (p instanceof Piece.Text) {
        continue;
      }
      ObjectNode o = arr.addObject();
      if (p instanceof Timestamp ts) {
        o.put("type", "timestamp");
        timestampInto(o, ts);
      } else if (p instanceof Span s) {
        o.put("type", "span");
        timestampInto(o.putObject("start"), s.start());
        timestampInto(o.putObject("end"), s.end());
      } else if (p instanceof Box b) {
        o.put("type", "box");
        boxInto(o, b);
      } else if (p instanceof TimedBox tb) {
        o.put("type", "timed_box");
        timestampInto(o.putObject("time"), tb.time());
        boxInto(o.putObject("box"), tb.box());
      } else if (p instanceof Piece.Bin bin) {
        o.put("type", "bin");
        o.put("axis", bin.axis().name().toLowerCase(Locale.ROOT));
        o.put("bin", bin.bin());
        number(o, "normalized", bin.normalized());
      }
      o.put("rendered", CoordinateFormat.render(p));
    }
    return arr;
  }

  private static void timestampInto(ObjectNode o, Timestamp ts) {
    o.put("bin", ts.bin());
    number(o, "normalized", ts.normalized());
    if (ts.frame() >= 0) {
      o.put("frame", ts.frame());
    } else {
      o.putNull("frame");
    }
    number(o, "seconds", ts.seconds());
  }

  private static void boxInto(ObjectNode o, Box b) {
    ArrayNode bins = o.putArray("bins");
    ArrayNode norm = o.putArray("normalized");
    ArrayNode px = o.putArray("pixels");
    for (Coordinate c : new Coordinate[] {b.x1(), b.y1(), b.x2(), b.y2()}) {
      bins.add(c.bin());
      number(norm, c.normalized());
      number(px, c.pixels());
    }
  }

  private static ObjectNode resultJson(TaskResult r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("task", r.task().name());
    o.put("text", r.text());
    o.set("span", r.span() == null ? null : coordinatesJson(List.of(r.span())).get(0));
    o.set("end_time", r.endTime() == null ? null : coordinatesJson(List.of(r.endTime())).get(0));
    o.set("box", r.box() == null ? null : coordinatesJson(List.of(r.box())).get(0));
    o.set("timed_boxes", coordinatesJson(r.timedBoxes()));
    o.set("boxes", coordinatesJson(r.boxes()));
    o.set("spans", coordinatesJson(r.spans()));
    if (r.caption() == null) {
      o.putNull("caption");
    } else {
      o.put("caption", r.caption());
    }
    return o;
  }

  private static ObjectNode mediaJson(FinalAnswer a, String path) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    MediaGeometry g = a.media();
    o.put("kind", a.mediaKind().name().toLowerCase(Locale.ROOT));
    o.put("path", path);
    o.put("media_id", a.mediaId());
    o.put("media_key", a.mediaKey());
    o.put("width", g.widthPx());
    o.put("height", g.heightPx());
    if (g.video()) {
      number(o, "fps", g.fps());
      number(o, "duration_s", g.durationSeconds());
      o.put("frame_count", g.frameCount());
      o.put("clip_start_frame", g.clipStartFrame());
      o.put("clip_end_frame", g.clipEndFrame());
    }
    o.put("model_frames", g.sampledIndices().length);
    o.set("sampled_frames", ints(g.sampledIndices()));
    return o;
  }

  private static ArrayNode ints(int[] values) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode(values.length);
    for (int v : values) {
      a.add(v);
    }
    return a;
  }

  /** Finite numbers as numbers, NaN and infinities as null (JSON has neither). */
  private static void number(ObjectNode o, String field, double v) {
    if (Double.isFinite(v)) {
      o.put(field, v);
    } else {
      o.putNull(field);
    }
  }

  private static void number(ArrayNode a, double v) {
    if (Double.isFinite(v)) {
      a.add(v);
    } else {
      a.addNull();
    }
  }

  private static double seconds(long nanos) {
    return Math.round(nanos / 1e3) / 1e6;
  }

  private static double round(double seconds) {
    return Math.round(seconds * 1e6) / 1e6;
  }
}

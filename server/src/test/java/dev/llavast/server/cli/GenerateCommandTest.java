package dev.llavast.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.llavast.models.LlavaSt;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.models.coords.Axis;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.coords.CoordinateStreamParser;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.SpaceAxis;
import dev.llavast.models.coords.TimeAxis;
import dev.llavast.models.tokenizer.StreamDecoder;
import dev.llavast.server.Main;
import dev.llavast.server.generation.EngineConfig;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The one-shot {@code generate} command, run in-process through {@link Main}'s command line on a
 * tiny random-weight checkpoint in the official layout.
 */
@Timeout(180)
class GenerateCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int IMG_W = 200;
  private static final int IMG_H = 100;

  @TempDir static Path dir;
  static Path modelDir;
  static Path png;
  static LlavaSt model;

  @BeforeAll
  static void writeCheckpointAndImage() throws Exception {
    modelDir = dir.resolve("ckpt");
    TinyCheckpoints.write(modelDir, TinyCheckpoints.Preset.TINY, 11);
    png = dir.resolve("img.png");
    BufferedImage bi = new BufferedImage(IMG_W, IMG_H, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < IMG_H; y++) {
      for (int x = 0; x < IMG_W; x++) {
        bi.setRGB(x, y, (x * 255 / IMG_W) << 16 | (y * 255 / IMG_H) << 8 | 90);
      }
    }
    ImageIO.write(bi, "png", png.toFile());
    model = LlavaSt.open(modelDir);
  }

  @AfterAll
  static void closeModel() throws Exception {
    model.close();
  }

  /** Exit code, stdout and stderr of one in-process run. */
  record Run(int exit, String out, String err) {
    JsonNode json() throws Exception {
      return JSON.readTree(out);
    }
  }

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of("generate"));
    all.addAll(List.of(args));
    int exit = cl.execute(all.toArray(new String[0]));
    return new Run(exit, out.toString(), err.toString());
  }

  private static int[] ids(JsonNode arr) {
    int[] r = new int[arr.size()];
    for (int i = 0; i < r.length; i++) {
      assertThat(arr.get(i).isInt()).as("token id %s is an int", arr.get(i)).isTrue();
      r[i] = arr.get(i).intValue();
    }
    return r;
  }

  @Test
  void imageAnswerAsJsonIsCompleteConsistentAndDeterministic() throws Exception {
    String[] args = {
      "--model-dir",
      modelDir.toString(),
      "--image",
      png.toString(),
      "--prompt",
      "What is in the region [<w0.3>,<h0.045>,<w0.724>,<h0.388>]?",
      "--max-new-tokens",
      "24",
      "--greedy",
      "--json"
    };
    Run first = run(args);
    assertThat(first.exit()).as(first.err()).isZero();
    assertThat(first.out().trim().lines().count()).as("exactly one JSON line").isEqualTo(1);
    JsonNode j = first.json();
    int[] ids = ids(j.get("token_ids"));
    int ext = model.config().extendedVocabSize();
    assertThat(ids).isNotEmpty().hasSizeLessThanOrEqualTo(24);
    for (int id : ids) {
      assertThat(id).isBetween(0, ext - 1);
    }
    assertThat(j.get("text").asText()).isEqualTo(model.tokenizer().decode(ids));

    // the stop token ends the answer, or max_new_tokens did
    if (j.get("finish_reason").asText().equals("stop")) {
      assertThat(model.stopTokenIds()).contains(j.get("stop_token_id").intValue());
      assertThat(j.get("logprobs")).hasSize(ids.length + 1);
    } else {
      assertThat(ids).hasSize(24);
      assertThat(j.get("stop_token_id").isNull()).isTrue();
      assertThat(j.get("logprobs")).hasSize(ids.length);
    }
    for (JsonNode lp : j.get("logprobs")) {
      assertThat(lp.doubleValue()).isLessThanOrEqualTo(0.0);
    }

    // prompt: the rendered ids, the 729 image positions and the four value slots with their values
    JsonNode prompt = j.get("prompt");
    assertThat(prompt.get("token_ids")).hasSize(j.get("usage").get("prompt_tokens").intValue());
    assertThat(prompt.get("visual_length").intValue()).isEqualTo(729);
    assertThat(j.get("usage").get("visual_tokens").intValue()).isEqualTo(729);
    assertThat(j.get("usage").get("generated_tokens").intValue()).isEqualTo(ids.length);
    JsonNode values = prompt.get("value_tokens");
    assertThat(values).hasSize(4);
    assertThat(values.get(0).get("value").doubleValue()).isCloseTo(0.3, within(1e-6));
    assertThat(values.get(1).get("value").doubleValue()).isCloseTo(0.045, within(1e-6));
    assertThat(values.get(3).get("value").doubleValue()).isCloseTo(0.388, within(1e-6));

    JsonNode media = j.get("media");
    assertThat(media.get("kind").asText()).isEqualTo("image");
    assertThat(media.get("width").intValue()).isEqualTo(IMG_W);
    assertThat(media.get("height").intValue()).isEqualTo(IMG_H);
    assertThat(media.get("model_frames").intValue()).isEqualTo(1);

    assertCoordinatesMatchIds(j.get("coordinates"), ids, model.codec(), IMG_W, IMG_H, -1, -1, 0);

    JsonNode t = j.get("timings");
    double parts = 0;
    for (String k :
        List.of("decode_media_s", "load_model_s", "encode_s", "prefill_s", "decode_s")) {
      assertThat(t.get(k).doubleValue()).as(k).isGreaterThanOrEqualTo(0.0);
      parts += t.get(k).doubleValue();
    }
    assertThat(t.get("total_s").doubleValue()).isGreaterThanOrEqualTo(parts - 1e-3);

    Run second = run(args);
    assertThat(second.exit()).isZero();
    assertThat(ids(second.json().get("token_ids"))).containsExactly(ids);
    assertThat(second.json().get("logprobs")).isEqualTo(j.get("logprobs"));
  }

  @Test
  void plainOutputIsTheRenderedAnswer() throws Exception {
    String[] common = {
      "--model-dir",
      modelDir.toString(),
      "--image",
      png.toString(),
      "--prompt",
      "Describe it.",
      "--max-new-tokens",
      "10"
    };
    Run plain = run(common);
    assertThat(plain.exit()).as(plain.err()).isZero();
    List<String> jsonArgs = new ArrayList<>(List.of(common));
    jsonArgs.add("--json");
    JsonNode j = run(jsonArgs.toArray(new String[0])).json();
    String expected = j.get("text_rendered").asText() + System.lineSeparator();
    String coords = j.get("coordinates_rendered").asText();
    if (!coords.isEmpty()) {
      expected += "coordinates: " + coords + System.lineSeparator();
    }
    assertThat(plain.out()).isEqualTo(expected);
  }

  @Test
  void sampledDecodingIsSeedable() throws Exception {
    String[] args = {
      "--model-dir",
      modelDir.toString(),
      "--image",
      png.toString(),
      "--prompt",
      "Describe it.",
      "--max-new-tokens",
      "12",
      "--temperature",
      "1.5",
      "--top-k",
      "50",
      "--seed",
      "42",
      "--json"
    };
    JsonNode a = run(args).json();
    JsonNode b = run(args).json();
    assertThat(a.get("sampling").get("greedy").booleanValue()).isFalse();
    assertThat(a.get("token_ids")).isEqualTo(b.get("token_ids"));
  }

  @Test
  void constrainedDecodingShapesTheAnswerAndBadModesAreRefused() throws Exception {
    String[] args = {
      "--model-dir",
      modelDir.toString(),
      "--image",
      png.toString(),
      "--prompt",
      "the red square",
      "--task",
      "REC",
      "--constrain",
      "task-shape",
      "--max-new-tokens",
      "20",
      "--temperature",
      "1",
      "--seed",
      "3",
      "--json"
    };
    Run r = run(args);
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.json().at("/result/box").isObject()).as(r.out()).isTrue();
    Run bad =
        run(
            "--model-dir",
            modelDir.toString(),
            "--image",
            png.toString(),
            "--prompt",
            "x",
            "--constrain",
            "always");
    assertThat(bad.exit()).isEqualTo(2);
    assertThat(bad.err()).contains("--constrain must be off, coordinates or task-shape");
    Run unshaped =
        run(
            "--model-dir",
            modelDir.toString(),
            "--image",
            png.toString(),
            "--prompt",
            "x",
            "--task",
            "TVG",
            "--constrain",
            "task-shape");
    assertThat(unshaped.exit()).isEqualTo(2);
    assertThat(unshaped.err()).contains("needs a video");
  }

  @Test
  void videoClipMapsTimestampsToSecondsOfTheClip() throws Exception {
    Path video = writeVideo(dir.resolve("clip.mp4"), 64, 48, 30, 10.0);
    Run r =
        run(
            "--model-dir",
            modelDir.toString(),
            "--video",
            video.toString(),
            "--clip-start",
            "0.5",
            "--clip-end",
            "2.5",
            "--prompt",
            "When does it change colour?",
            "--max-new-tokens",
            "24",
            "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode j = r.json();
    JsonNode media = j.get("media");
    assertThat(media.get("kind").asText()).isEqualTo("video");
    assertThat(media.get("fps").doubleValue()).isCloseTo(10.0, within(1e-6));
    assertThat(media.get("frame_count").intValue()).isEqualTo(30);
    // seconds 0.5 .. 2.5 at 10 fps: frames rint(5) .. rint(25)
    assertThat(media.get("clip_start_frame").intValue()).isEqualTo(5);
    assertThat(media.get("clip_end_frame").intValue()).isEqualTo(25);
    JsonNode sampled = media.get("sampled_frames");
    assertThat(sampled).hasSize(100);
    for (int i = 0; i < 100; i++) {
      assertThat(sampled.get(i).intValue())
          .as("sampled frame %d", i)
          .isEqualTo(5 + (int) Math.rint(i / 99.0 * 20));
    }
    assertThat(j.get("usage").get("visual_tokens").intValue()).isEqualTo(1620);
    int[] ids = ids(j.get("token_ids"));
    assertThat(j.get("text").asText()).isEqualTo(model.tokenizer().decode(ids));
    assertCoordinatesMatchIds(j.get("coordinates"), ids, model.codec(), 64, 48, 5, 25, 10.0);
  }

  @Test
  void badMediaExitsWithTwoAndNamesTheReason() throws Exception {
    Path junk = dir.resolve("junk.mp4");
    Files.write(junk, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    Run r =
        run(
            "--model-dir",
            modelDir.toString(),
            "--video",
            junk.toString(),
            "--prompt",
            "hi",
            "--json");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("error: bad media (UNREADABLE)");

    Path empty = dir.resolve("frames");
    Files.createDirectories(empty);
    Run f =
        run("--model-dir", modelDir.toString(), "--frames-dir", empty.toString(), "--prompt", "hi");
    assertThat(f.exit()).isEqualTo(2);
    assertThat(f.err()).contains("bad media (EMPTY)");
  }

  @Test
  void aFramesDirOfAnyLengthIsAVideoSampledToTheModelsFrameCount() throws Exception {
    Path frames = dir.resolve("three-frames");
    Files.createDirectories(frames);
    for (int i = 0; i < 3; i++) {
      Files.copy(png, frames.resolve("f" + i + ".png"));
    }
    Run r =
        run(
            "--model-dir",
            modelDir.toString(),
            "--frames-dir",
            frames.toString(),
            "--fps",
            "2",
            "--prompt",
            "hi",
            "--max-new-tokens",
            "4",
            "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode media = r.json().get("media");
    assertThat(media.get("kind").asText()).isEqualTo("frames");
    assertThat(media.get("frame_count").intValue()).isEqualTo(3);
    assertThat(media.get("fps").doubleValue()).isEqualTo(2.0);
    // the video formula over [0, 2]: f_i = rint(i / 99 * 2)
    JsonNode sampled = media.get("sampled_frames");
    assertThat(sampled).hasSize(100);
    for (int i = 0; i < 100; i++) {
      assertThat(sampled.get(i).intValue()).isEqualTo((int) Math.rint(i / 99.0 * 2));
    }
    assertThat(r.json().get("usage").get("visual_tokens").intValue()).isEqualTo(1620);
  }

  @Test
  void badFlagsAreUsageErrors() {
    assertThat(
            run(
                    "--model-dir",
                    modelDir.toString(),
                    "--image",
                    png.toString(),
                    "--prompt",
                    "x",
                    "--greedy",
                    "--temperature",
                    "0.7")
                .exit())
        .isEqualTo(2);
    assertThat(
            run(
                    "--model-dir",
                    modelDir.toString(),
                    "--image",
                    png.toString(),
                    "--video",
                    png.toString(),
                    "--prompt",
                    "x")
                .exit())
        .isEqualTo(2);
    Run r =
        run(
            "--model-dir",
            modelDir.toString(),
            "--image",
            png.toString(),
            "--prompt",
            "x",
            "--task",
            "nope");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("--task nope is not one of");
    Run bad =
        run(
            "--model-dir",
            modelDir.toString(),
            "--image",
            png.toString(),
            "--prompt",
            "at <t1.7x>");
    assertThat(bad.exit()).isEqualTo(2);
    assertThat(bad.err()).startsWith("error: bad prompt: malformed coordinate");
  }

  @Test
  void engineFlagsReachTheEngineConfigAsTheyDoForTheServer() {
    GenerateCommand g = new GenerateCommand();
    new CommandLine(g)
        .parseArgs(
            "--image",
            png.toString(),
            "--prompt",
            "x",
            "--max-new-tokens",
            "5000",
            "--no-attention-fp32",
            "--no-prefix-caching",
            "--kv-blocks",
            "64",
            "--devices",
            "cpu:2");
    EngineConfig c = g.engineConfig();
    assertThat(c.attentionFp32()).isFalse();
    assertThat(c.prefixCaching()).isFalse();
    assertThat(c.kvBlocks()).isEqualTo(64);
    assertThat(c.devices().names()).containsExactly("cpu:0", "cpu:1");
    assertThat(c.defaultMaxNewTokens()).isEqualTo(5000);
    assertThat(c.maxNewTokensLimit()).as("raised to the asked length").isEqualTo(5000);
    assertThat(c.maxSessions()).isEqualTo(1);
    assertThat(c.modelDir()).isEmpty();

    GenerateCommand unset = new GenerateCommand();
    new CommandLine(unset).parseArgs("--image", png.toString(), "--prompt", "x");
    assertThat(unset.engineConfig().attentionFp32()).as("the model's default").isNull();
    Run tooLong = run("--image", png.toString(), "--prompt", "x", "--max-new-tokens", "1000001");
    assertThat(tooLong.exit()).isEqualTo(2);
    assertThat(tooLong.err()).contains("--max-new-tokens must be at most 1000000, got 1000001");
  }

  /**
   * The answer parser on a hand-written answer: text, a box, a span and a stray bin, with seconds
   * and pixels computed here from the spec's formulas.
   */
  @Test
  void coordinatesOfAHandWrittenAnswer() {
    CoordinateCodec c = model.codec();
    List<Integer> ids = new ArrayList<>();
    for (int id : model.tokenizer().encode("The cat [")) {
      ids.add(id);
    }
    ids.add(c.tokenId(Axis.WIDTH, 10));
    ids.add(c.tokenId(Axis.HEIGHT, 20));
    ids.add(c.tokenId(Axis.WIDTH, 30));
    ids.add(c.tokenId(Axis.HEIGHT, 99));
    for (int id : model.tokenizer().encode("] from {")) {
      ids.add(id);
    }
    ids.add(c.tokenId(Axis.TIME, 0));
    ids.add(c.tokenId(Axis.TIME, 50));
    for (int id : model.tokenizer().encode("} ")) {
      ids.add(id);
    }
    ids.add(c.tokenId(Axis.HEIGHT, 7));
    int[] arr = ids.stream().mapToInt(Integer::intValue).toArray();
    // clip frames 5..25 of a 10 fps video, 200x100 pixels
    List<Piece> pieces = parse(arr, c.time(5, 25, 10.0), c.space(IMG_W, IMG_H));
    JsonNode coords = AnswerJson.coordinatesJson(pieces);
    assertThat(coords).hasSize(3);
    JsonNode box = coords.get(0);
    assertThat(box.get("type").asText()).isEqualTo("box");
    assertThat(box.get("pixels").get(0).doubleValue()).isCloseTo(10 / 99.0 * 200, within(1e-9));
    assertThat(box.get("pixels").get(1).doubleValue()).isCloseTo(20 / 99.0 * 100, within(1e-9));
    assertThat(box.get("pixels").get(3).doubleValue()).isCloseTo(100.0, within(1e-9));
    assertThat(box.get("rendered").asText()).isEqualTo("[0.101,0.202,0.303,1.000]");
    JsonNode span = coords.get(1);
    assertThat(span.get("type").asText()).isEqualTo("span");
    assertThat(span.get("start").get("frame").intValue()).isEqualTo(5);
    assertThat(span.get("start").get("seconds").doubleValue()).isEqualTo(0.0);
    // bin 50: frame 5 + rint(50/99 * 20) = 5 + rint(10.101) = 15 -> (15 - 5) / 10 = 1.0 s
    assertThat(span.get("end").get("frame").intValue()).isEqualTo(15);
    assertThat(span.get("end").get("seconds").doubleValue()).isCloseTo(1.0, within(1e-12));
    assertThat(coords.get(2).get("type").asText()).isEqualTo("bin");
    assertThat(coords.get(2).get("axis").asText()).isEqualTo("height");
    assertThat(coords.get(2).get("bin").intValue()).isEqualTo(7);
    StringBuilder text = new StringBuilder();
    for (Piece p : pieces) {
      if (p instanceof Piece.Text t) {
        text.append(t.text());
      }
    }
    assertThat(text.toString()).isEqualTo("The cat  from  ");
  }

  /** The pieces of a whole answer, fed as the answer assembly feeds them: each id with its text. */
  private static List<Piece> parse(int[] ids, TimeAxis time, SpaceAxis space) {
    CoordinateStreamParser parser = model.codec().parser(time, space);
    StreamDecoder text = model.tokenizer().newStreamDecoder();
    List<Piece> pieces = new ArrayList<>();
    for (int id : ids) {
      pieces.addAll(parser.onToken(id, text.push(id)));
    }
    pieces.addAll(parser.onText(text.finish()));
    pieces.addAll(parser.finish());
    return pieces;
  }

  /**
   * Every coordinate id of the answer appears, in order, in exactly one decoded group, and each
   * group's seconds and pixels follow from its bins (spec §7.2, §7.3), computed here independently.
   *
   * @param clipStart first clip frame, or -1 for an image (no seconds)
   */
  static void assertCoordinatesMatchIds(
      JsonNode coords,
      int[] ids,
      CoordinateCodec codec,
      int w,
      int h,
      int clipStart,
      int clipEnd,
      double fps) {
    List<String> expected = new ArrayList<>();
    for (int id : ids) {
      if (codec.isBin(id)) {
        expected.add(codec.axisOf(id).name().toLowerCase() + codec.binOf(id));
      }
    }
    List<String> actual = new ArrayList<>();
    for (JsonNode g : coords) {
      switch (g.get("type").asText()) {
        case "timestamp" -> actual.add(time(g, clipStart, clipEnd, fps));
        case "span" -> {
          actual.add(time(g.get("start"), clipStart, clipEnd, fps));
          actual.add(time(g.get("end"), clipStart, clipEnd, fps));
        }
        case "box" -> actual.addAll(box(g, w, h));
        case "timed_box" -> {
          actual.add(time(g.get("time"), clipStart, clipEnd, fps));
          actual.addAll(box(g.get("box"), w, h));
        }
        case "bin" -> actual.add(g.get("axis").asText() + g.get("bin").intValue());
        default -> throw new AssertionError("unknown coordinate type " + g);
      }
    }
    assertThat(actual).isEqualTo(expected);
  }

  private static String time(JsonNode ts, int clipStart, int clipEnd, double fps) {
    int bin = ts.get("bin").intValue();
    assertThat(ts.get("normalized").doubleValue()).isCloseTo(bin / 99.0, within(1e-12));
    if (clipStart < 0) {
      assertThat(ts.get("seconds").isNull()).isTrue();
    } else {
      int frame = clipStart + (int) Math.rint(bin / 99.0 * (clipEnd - clipStart));
      assertThat(ts.get("frame").intValue()).isEqualTo(frame);
      assertThat(ts.get("seconds").doubleValue())
          .isCloseTo((frame - clipStart) / fps, within(1e-9));
    }
    return "time" + bin;
  }

  private static List<String> box(JsonNode b, int w, int h) {
    List<String> r = new ArrayList<>();
    String[] axes = {"width", "height", "width", "height"};
    for (int i = 0; i < 4; i++) {
      int bin = b.get("bins").get(i).intValue();
      assertThat(b.get("normalized").get(i).doubleValue()).isCloseTo(bin / 99.0, within(1e-12));
      assertThat(b.get("pixels").get(i).doubleValue())
          .isCloseTo(bin / 99.0 * (i % 2 == 0 ? w : h), within(1e-9));
      r.add(axes[i] + bin);
    }
    return r;
  }

  /** An MPEG-4 video of {@code frames} solid frames whose colour changes with the index. */
  static Path writeVideo(Path file, int width, int height, int frames, double fps)
      throws Exception {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), width, height, 0)) {
      rec.setFormat("mp4");
      rec.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      rec.setFrameRate(fps);
      rec.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      rec.setVideoQuality(2);
      rec.start();
      Frame f = new Frame(width, height, Frame.DEPTH_UBYTE, 3);
      ByteBuffer b = (ByteBuffer) f.image[0];
      for (int i = 0; i < frames; i++) {
        for (int y = 0; y < height; y++) {
          for (int x = 0; x < width; x++) {
            int p = y * f.imageStride + x * 3;
            b.put(p, (byte) (8 * i));
            b.put(p + 1, (byte) (255 - 8 * i));
            b.put(p + 2, (byte) (x * 4));
          }
        }
        rec.record(f, avutil.AV_PIX_FMT_RGB24);
      }
      rec.stop();
    }
    return file;
  }
}

package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.llavast.models.LlavaSt;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.models.coords.Axis;
import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.Task;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.scheduler.FinishReason;
import dev.llavast.scheduler.Usage;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.media.MediaGeometry;
import dev.llavast.server.observability.Metrics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one answer assembly, fed token by token as a worker feeds it, on the tiny checkpoint's real
 * byte-level tokenizer: deltas add up to the final text; a coordinate group's text and its value
 * leave in the same delta however the text around it is split into tokens; stop strings that span
 * tokens; no delta ever carries a partial UTF-8 character. Seconds and pixels are computed here
 * from the spec's formulas (§7.2, §7.3), independently of the codec.
 */
@Timeout(60)
class AnswerAssemblerTest {
  private static final int W = 200;
  private static final int H = 100;

  /** Frames 5..25 of a 10 fps video: D - 1 = 20 frames, clip starts at 0.5 s. */
  private static final MediaGeometry VIDEO =
      new MediaGeometry(true, W, H, 10.0, 3.0, 30, 5, 25, new int[100]);

  @TempDir static Path dir;
  static LlavaSt model;
  static CoordinateCodec codec;

  @BeforeAll
  static void open() throws Exception {
    TinyCheckpoints.write(dir.resolve("ckpt"), TinyCheckpoints.Preset.TINY, 3);
    model = LlavaSt.open(dir.resolve("ckpt"));
    codec = model.codec();
  }

  @AfterAll
  static void close() throws Exception {
    model.close();
  }

  /** Everything an assembler handed its listener. */
  static final class Recorder implements AnswerListener {
    final List<AnswerDelta> deltas = new ArrayList<>();
    FinalAnswer fin;
    ApiException error;

    @Override
    public void onDelta(AnswerDelta delta) {
      assertThat(fin).as("no delta after the final answer").isNull();
      deltas.add(delta);
    }

    @Override
    public void onFinish(FinalAnswer answer) {
      assertThat(fin).as("one final answer").isNull();
      fin = answer;
    }

    @Override
    public void onError(ApiException e) {
      error = e;
    }

    String deltaText() {
      StringBuilder b = new StringBuilder();
      deltas.forEach(d -> b.append(d.text()));
      return b.toString();
    }
  }

  private static AnswerAssembler assembler(Recorder rec, List<String> stops, Task task) {
    AtomicLong clock = new AtomicLong(1_000);
    AnswerAssembler a =
        new AnswerAssembler(
            stops,
            model.tokenizer().newStreamDecoder(),
            rec,
            Metrics.noop(),
            () -> clock.addAndGet(1_000_000));
    a.bind(
        new AnswerAssembler.Context(
            "r1",
            "sha256:x",
            "sha256:x/k",
            DecodedMedia.Kind.VIDEO,
            task,
            VIDEO,
            false,
            1620,
            1_000,
            0,
            0,
            "q",
            null),
        codec.parser(codec.time(5, 25, 10.0), codec.space(W, H)),
        codec::isBin);
    return a;
  }

  /** Feeds every id (stopping if the assembler asks to), then finishes as the scheduler would. */
  private static Recorder run(List<Integer> ids, List<String> stops, Task task) {
    Recorder rec = new Recorder();
    AnswerAssembler a = assembler(rec, stops, task);
    boolean stopped = false;
    int fed = 0;
    for (int id : ids) {
      fed++;
      if (!a.onToken(id, -0.5f)) {
        stopped = true;
        break;
      }
    }
    a.onFinish(
        stopped ? FinishReason.STOPPED_BY_SINK : FinishReason.LENGTH,
        new Usage(2000, 1984, fed, 1_000_000, 2_000_000, 3_000_000, 0));
    assertThat(rec.error).isNull();
    assertThat(rec.fin).isNotNull();
    return rec;
  }

  private static List<Integer> text(String s) {
    List<Integer> ids = new ArrayList<>();
    for (int id : model.tokenizer().encode(s)) {
      ids.add(id);
    }
    return ids;
  }

  private static int bin(Axis axis, int b) {
    return codec.tokenId(axis, b);
  }

  /**
   * {@code "The cat [W10 H20 W30 H99] from {T0 T50} and <T12>: [W1 H2 W3 H4] then"} with the text
   * split at {@code k}.
   */
  private static List<Integer> answer(int k) {
    String head = "The cat [";
    List<Integer> ids = new ArrayList<>();
    ids.addAll(text(head.substring(0, Math.min(k, head.length()))));
    ids.addAll(text(head.substring(Math.min(k, head.length()))));
    ids.addAll(
        List.of(
            bin(Axis.WIDTH, 10), bin(Axis.HEIGHT, 20), bin(Axis.WIDTH, 30), bin(Axis.HEIGHT, 99)));
    String mid = "] from {";
    int m = Math.max(0, Math.min(k - head.length(), mid.length()));
    ids.addAll(text(mid.substring(0, m)));
    ids.addAll(text(mid.substring(m)));
    ids.addAll(List.of(bin(Axis.TIME, 0), bin(Axis.TIME, 50)));
    ids.addAll(text("} and "));
    ids.add(bin(Axis.TIME, 12));
    ids.addAll(text(": ["));
    ids.addAll(
        List.of(bin(Axis.WIDTH, 1), bin(Axis.HEIGHT, 2), bin(Axis.WIDTH, 3), bin(Axis.HEIGHT, 4)));
    ids.addAll(text("] then"));
    return ids;
  }

  @Test
  void groupsAreDecodedIntoSecondsAndPixelsAndTheDeltasAddUpToTheAnswer() {
    Recorder r = run(answer(0), List.of(), Task.FREE_FORM);
    FinalAnswer a = r.fin;
    assertThat(r.deltaText()).isEqualTo(a.text());
    assertThat(a.finish()).isEqualTo(FinalAnswer.Finish.LENGTH);
    assertThat(a.tokenIds()).hasSize(answer(0).size());
    List<Piece> groups = a.coordinates().stream().map(AnswerCoordinate::group).toList();
    assertThat(groups).hasSize(3);
    Box box = (Box) groups.get(0);
    assertThat(box.x1().pixels()).isCloseTo(10 / 99.0 * W, within(1e-9));
    assertThat(box.y1().pixels()).isCloseTo(20 / 99.0 * H, within(1e-9));
    assertThat(box.y2().pixels()).isCloseTo(H, within(1e-9));
    Span span = (Span) groups.get(1);
    // bin 50: frame 5 + rint(50/99 * 20) = 5 + rint(10.101) = 15 -> (15 - 5) / 10 fps = 1.0 s from
    // the clip start
    assertThat(span.start().seconds()).isEqualTo(0.0);
    assertThat(span.end().seconds()).isCloseTo(1.0, within(1e-12));
    TimedBox tb = (TimedBox) groups.get(2);
    // bin 12: 5 + rint(12/99 * 20) = 5 + rint(2.42) = 7 -> 0.2 s
    assertThat(tb.time().seconds()).isCloseTo(0.2, within(1e-12));
    assertThat(tb.box().x2().pixels()).isCloseTo(3 / 99.0 * W, within(1e-9));
    // every offset points at the group's first character, counted in UTF-8 bytes
    byte[] utf8 = a.text().getBytes(StandardCharsets.UTF_8);
    List<String> starts = new ArrayList<>();
    for (AnswerCoordinate c : a.coordinates()) {
      starts.add(new String(utf8, c.textOffsetBytes(), 6, StandardCharsets.UTF_8));
    }
    assertThat(starts).containsExactly("[<WIDT", "{<TEMP", "<TEMP-");
    assertThat(a.result().task()).isEqualTo(Task.FREE_FORM);
    assertThat(r.deltas).allSatisfy(d -> assertThat(d.clipStartSeconds()).isEqualTo(0.5));
  }

  @Test
  void aGroupsTextAndItsValueLeaveInTheSameDeltaAtEverySplitPoint() {
    String expected = null;
    for (int k = 0; k <= 17; k++) {
      Recorder r = run(answer(k), List.of(), Task.FREE_FORM);
      String text = r.fin.text();
      if (expected == null) {
        expected = text;
      }
      assertThat(text).as("split %d", k).isEqualTo(expected);
      assertThat(r.deltaText()).isEqualTo(text);
      int sentBytes = 0;
      int groups = 0;
      for (AnswerDelta d : r.deltas) {
        int deltaBytes = d.text().getBytes(StandardCharsets.UTF_8).length;
        for (AnswerCoordinate c : d.coordinates()) {
          int end = groupEnd(text, c);
          assertThat(c.textOffsetBytes())
              .as("split %d: group %s starts in its own delta", k, c.group())
              .isGreaterThanOrEqualTo(sentBytes);
          assertThat(end)
              .as("split %d: group %s ends in its own delta", k, c.group())
              .isLessThanOrEqualTo(sentBytes + deltaBytes);
          groups++;
        }
        // and no delta holds a group's text without its value: an opened bracket is closed in the
        // same delta
        assertThat(count(d.text(), '['))
            .as("split %d, deltas %s", k, texts(r))
            .isEqualTo(count(d.text(), ']'));
        assertThat(count(d.text(), '{'))
            .as("split %d, deltas %s", k, texts(r))
            .isEqualTo(count(d.text(), '}'));
        sentBytes += deltaBytes;
      }
      assertThat(groups).isEqualTo(3);
    }
  }

  /** The UTF-8 offset just past a group's last character. */
  private static int groupEnd(String text, AnswerCoordinate c) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    String from =
        new String(
            utf8, c.textOffsetBytes(), utf8.length - c.textOffsetBytes(), StandardCharsets.UTF_8);
    char close = c.group() instanceof Span ? '}' : c.group() instanceof Timestamp ? '>' : ']';
    String group = from.substring(0, from.indexOf(close) + 1);
    return c.textOffsetBytes() + group.getBytes(StandardCharsets.UTF_8).length;
  }

  private static List<String> texts(Recorder r) {
    return r.deltas.stream().map(AnswerDelta::text).toList();
  }

  private static long count(String s, char c) {
    return s.chars().filter(x -> x == c).count();
  }

  @Test
  void aStopStringThatSpansTokensEndsTheAnswerBeforeIt() {
    List<Integer> ids = new ArrayList<>();
    for (char c : "hello world STOP here".toCharArray()) {
      ids.addAll(
          text(String.valueOf(c))); // one token per character: the stop string spans four tokens
    }
    Recorder r = run(ids, List.of("d ST", "never"), Task.FREE_FORM);
    assertThat(r.fin.text()).isEqualTo("hello worl");
    assertThat(r.fin.finish()).isEqualTo(FinalAnswer.Finish.STOP_STRING);
    assertThat(r.deltaText()).isEqualTo("hello worl");
    assertThat(r.fin.tokenIds())
        .as("generation stopped at the token that completed the stop string")
        .hasSize("hello world ST".length());
  }

  @Test
  void offsetsCountUtf8BytesOfEveryCharacterBeforeTheGroup() {
    // two-, three- and four-byte characters before, between and after the groups
    List<Integer> ids = new ArrayList<>(text("Le chat \u00e9 \u732b \uD83C\uDFA5 ["));
    ids.addAll(
        List.of(
            bin(Axis.WIDTH, 10), bin(Axis.HEIGHT, 20), bin(Axis.WIDTH, 30), bin(Axis.HEIGHT, 99)));
    ids.addAll(text("] puis \u00e0 {"));
    ids.addAll(List.of(bin(Axis.TIME, 0), bin(Axis.TIME, 50)));
    ids.addAll(text("} \uD83C\uDFA5\u00e9 "));
    ids.add(bin(Axis.TIME, 12));
    ids.addAll(text(" fin"));
    FinalAnswer a = run(ids, List.of(), Task.FREE_FORM).fin;
    byte[] utf8 = a.text().getBytes(StandardCharsets.UTF_8);
    List<String> starts = new ArrayList<>();
    for (AnswerCoordinate c : a.coordinates()) {
      starts.add(new String(utf8, c.textOffsetBytes(), 6, StandardCharsets.UTF_8));
    }
    assertThat(starts).containsExactly("[<WIDT", "{<TEMP", "<TEMP-");
    int firstGroup = a.text().indexOf('[');
    assertThat(a.coordinates().get(0).textOffsetBytes())
        .isEqualTo(a.text().substring(0, firstGroup).getBytes(StandardCharsets.UTF_8).length);
  }

  @Test
  void aPartialUtf8CharacterNeverLeaves() {
    List<Integer> emoji = text("\uD83C\uDFA5"); // U+1F3A5, four UTF-8 bytes
    assertThat(emoji).as("the byte-level tokenizer splits it").hasSizeGreaterThan(1);
    List<Integer> ids = new ArrayList<>(text("a"));
    ids.addAll(emoji);
    ids.addAll(text("b"));
    Recorder r = run(ids, List.of(), Task.FREE_FORM);
    assertThat(r.fin.text()).isEqualTo("a\uD83C\uDFA5b");
    assertThat(r.deltaText()).isEqualTo(r.fin.text());
    for (AnswerDelta d : r.deltas) {
      assertThat(d.text()).doesNotContain("\uFFFD");
      assertThat(new String(d.text().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
          .isEqualTo(d.text());
    }
  }

  @Test
  void timingsAddUpAndNeverExceedTheTotal() {
    // media work reported longer than the request's whole life (it joined a load another started)
    FinalAnswer.Timings t =
        FinalAnswer.Timings.of(
            5_000_000_000L,
            9_000_000_000L,
            1_000_000_000L,
            200_000_000L,
            300_000_000L,
            4_000_000_000L);
    assertThat(t.total()).isEqualTo(5.0);
    assertThat(t.mediaDecode()).isEqualTo(5.0);
    assertThat(t.encode()).isZero();
    assertThat(t.queue() + t.mediaDecode() + t.encode() + t.prefill() + t.decode())
        .isCloseTo(5.0, within(1e-9));
    FinalAnswer.Timings u =
        FinalAnswer.Timings.of(
            10_000_000_000L,
            2_000_000_000L,
            3_000_000_000L,
            1_000_000_000L,
            2_500_000_000L,
            6_000_000_000L);
    assertThat(u.queue()).isCloseTo(1.5, within(1e-9));
    assertThat(u.timeToFirstToken()).isEqualTo(6.0);
  }
}

package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.llavast.models.PixelFrames;
import dev.llavast.models.media.MediaException.Reason;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.imageio.ImageIO;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Decodes videos the test writes itself (3 s at 10 fps, 64x48, one known colour per frame). */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MediaDecoderTest {
  @TempDir static Path dir;
  static Path video;
  static Path faststart;
  static ExecutorService pool;
  final MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());

  @BeforeAll
  static void writeVideos() throws Exception {
    video = TestVideos.write(dir.resolve("v.mp4"), 64, 48, 30, 10.0, false);
    faststart = TestVideos.write(dir.resolve("fast.mp4"), 64, 48, 30, 10.0, true);
    pool = Executors.newFixedThreadPool(2);
  }

  @AfterAll
  static void stopPool() {
    pool.shutdownNow();
  }

  @Test
  void probeReportsTheContainer() {
    VideoInfo info = decoder.probeVideo(video);
    assertThat(info.width()).isEqualTo(64);
    assertThat(info.height()).isEqualTo(48);
    assertThat(info.fps()).isCloseTo(10.0, within(1e-9));
    assertThat(info.frameCount()).isEqualTo(30);
    assertThat(info.durationSeconds()).isCloseTo(3.0, within(0.05));
  }

  @Test
  void hundredFramesOfThirtyHaveTheRightColours() {
    DecodedMedia m = decoder.decodeVideo(video, 100, null);
    assertThat(m.kind()).isEqualTo(DecodedMedia.Kind.VIDEO);
    assertThat(m.clipStart()).isZero();
    assertThat(m.clipEnd()).isEqualTo(29);
    assertThat(m.sampledIndices()).containsExactly(FrameSampler.sample(0, 29, 100));
    assertThat(m.frames()).hasSize(100);
    for (int i = 0; i < 100; i++) {
      RgbImage f = m.frames().get(i);
      assertThat(f.width()).isEqualTo(64);
      assertThat(f.height()).isEqualTo(48);
      int expected = m.sampledIndices()[i];
      int[] c = TestVideos.colour(expected);
      assertThat(TestVideos.indexOf(f)).as("slot %d", i).isEqualTo(expected);
      for (int ch = 0; ch < 3; ch++) {
        assertThat(f.get(10, 10, ch)).as("slot %d channel %d", i, ch).isCloseTo(c[ch], within(3));
      }
    }
    // repeated source frames are shared, not copied
    assertThat(m.frames().get(0)).isSameAs(m.frames().get(1));
  }

  @Test
  void clipInFramesAndSecondsSampleTheSameFrames() {
    DecodedMedia byFrames = decoder.decodeVideo(faststart, 7, ClipRange.frames(5, 20));
    DecodedMedia bySeconds = decoder.decodeVideo(faststart, 7, ClipRange.seconds(0.5, 2.0));
    int[] expected = {5, 7, 10, 13, 15, 17, 20};
    for (DecodedMedia m : List.of(byFrames, bySeconds)) {
      assertThat(m.clipStart()).isEqualTo(5);
      assertThat(m.clipEnd()).isEqualTo(20);
      assertThat(m.sampledIndices()).containsExactly(expected);
      for (int i = 0; i < 7; i++) {
        assertThat(TestVideos.indexOf(m.frames().get(i))).isEqualTo(expected[i]);
      }
    }
  }

  @Test
  void bytesDecodeLikeTheFile() throws Exception {
    DecodedMedia m = decoder.decodeVideo(Files.readAllBytes(video), 4, null);
    // i/3*29 = 0, 9.67, 19.33, 29
    assertThat(m.sampledIndices()).containsExactly(0, 10, 19, 29);
    assertThat(m.frames().stream().mapToInt(TestVideos::indexOf).toArray())
        .containsExactly(0, 10, 19, 29);
  }

  @Test
  void streamingPreprocessMatchesDecodeThenPreprocess() {
    ImagePreprocessor pre = new ImagePreprocessor(384, 2);
    ImagePreprocessor.Prepared streamed = pre.prepareVideo(decoder, video, 40, null, "k", pool);
    PixelFrames twoStep = pre.preprocess(decoder.decodeVideo(video, 40, null), "k", pool);
    assertThat(streamed.pixels().frames()).isEqualTo(40);
    int mismatch = Arrays.mismatch(streamed.pixels().pixels(), twoStep.pixels());
    assertThat(mismatch)
        .as("first differing float (frame %d)", mismatch / (3 * 384 * 384))
        .isEqualTo(-1);
    assertThat(streamed.sampling().sampledIndices())
        .containsExactly(FrameSampler.sample(0, 29, 40));
    assertThat(streamed.sampling().info().fps()).isEqualTo(10.0);
  }

  @Test
  void rowsWithPaddedStridesAreCopiedRowByRow() throws Exception {
    // 3 * 66 = 198 bytes per row: not a multiple of the decoder's alignment
    Path odd = TestVideos.write(dir.resolve("odd.mp4"), 66, 50, 5, 5.0, false);
    DecodedMedia m = decoder.decodeVideo(odd, 5, null);
    assertThat(m.info().width()).isEqualTo(66);
    assertThat(m.info().height()).isEqualTo(50);
    for (int i = 0; i < 5; i++) {
      RgbImage f = m.frames().get(i);
      int[] c = TestVideos.colour(i);
      for (int[] xy : new int[][] {{0, 0}, {65, 0}, {0, 49}, {65, 49}, {33, 25}}) {
        for (int ch = 0; ch < 3; ch++) {
          assertThat(f.get(xy[0], xy[1], ch))
              .as("frame %d at %d,%d ch %d", i, xy[0], xy[1], ch)
              .isCloseTo(c[ch], within(4));
        }
      }
    }
  }

  @Test
  void truncatedStreamIsResampledOverTheDecodableFrames() throws Exception {
    byte[] all = Files.readAllBytes(faststart);
    // the index says 30 frames; cut the data after about half of them
    byte[] cut = Arrays.copyOf(all, all.length * 6 / 10);
    DecodedMedia m = decoder.decodeVideo(cut, 10, null);
    int n = m.info().frameCount();
    assertThat(n).isBetween(5, 29);
    assertThat(m.clipEnd()).isEqualTo(n - 1);
    assertThat(m.sampledIndices()).containsExactly(FrameSampler.sample(0, n - 1, 10));
    // the last decodable frame may be partly concealed (its data is cut), every earlier one is
    // intact
    for (int i = 0; i < 10; i++) {
      if (m.sampledIndices()[i] < n - 1) {
        assertThat(TestVideos.indexOf(m.frames().get(i))).isEqualTo(m.sampledIndices()[i]);
      }
    }
  }

  // ------------------------------------------------------------------ bad media

  private static void assertReason(ThrowingCallable call, Reason reason) {
    long t0 = System.nanoTime();
    assertThatThrownBy(call)
        .isInstanceOf(MediaException.class)
        .satisfies(
            e -> assertThat(((MediaException) e).reason()).as(e.getMessage()).isEqualTo(reason));
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .as("fails fast")
        .isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void emptyContent() throws Exception {
    assertReason(() -> decoder.decodeVideo(new byte[0], 100, null), Reason.EMPTY);
    assertReason(() -> decoder.decodeImage(new byte[0]), Reason.EMPTY);
    Path empty = Files.createFile(dir.resolve("empty.mp4"));
    assertReason(() -> decoder.decodeVideo(empty, 100, null), Reason.EMPTY);
    assertReason(() -> decoder.fromFrames(List.of(), 10), Reason.EMPTY);
  }

  @Test
  void notAVideo() {
    byte[] noise = new byte[4096];
    new Random(7).nextBytes(noise);
    assertReason(() -> decoder.decodeVideo(noise, 100, null), Reason.UNREADABLE);
    byte[] text = "hello, this is not a video at all\n".repeat(50).getBytes(StandardCharsets.UTF_8);
    assertReason(() -> decoder.decodeVideo(text, 100, null), Reason.UNREADABLE);
  }

  @Test
  void truncatedBeforeTheIndex() throws Exception {
    byte[] all =
        Files.readAllBytes(video); // moov at the end: cutting it off leaves nothing to open
    assertReason(
        () -> decoder.decodeVideo(Arrays.copyOf(all, all.length / 2), 100, null),
        Reason.UNREADABLE);
  }

  @Test
  void indexButNoFrameData() throws Exception {
    byte[] all = Files.readAllBytes(faststart);
    int mdat = indexOf(all, "mdat".getBytes(StandardCharsets.US_ASCII));
    assertThat(mdat).isPositive();
    byte[] headerOnly = Arrays.copyOf(all, mdat + 4);
    assertReason(() -> decoder.decodeVideo(headerOnly, 100, null), Reason.NO_FRAMES);
  }

  @Test
  void audioOnly() throws Exception {
    Path wav = TestVideos.writeAudioOnly(dir.resolve("a.wav"));
    assertReason(() -> decoder.decodeVideo(wav, 100, null), Reason.NO_VIDEO_STREAM);
  }

  @Test
  void limits() throws Exception {
    MediaLimits d = MediaLimits.defaults();
    assertReason(
        () -> new MediaDecoder(d.withMaxSize(32, 4000)).decodeVideo(video, 100, null),
        Reason.BAD_DIMENSIONS);
    assertReason(
        () -> new MediaDecoder(d.withMaxDurationSeconds(1.0)).decodeVideo(video, 100, null),
        Reason.TOO_LONG);
    assertReason(
        () ->
            new MediaDecoder(new MediaLimits(d.maxBytes(), 8000, 8000, 1e4, 20, d.maxDecodeTime()))
                .decodeVideo(video, 100, null),
        Reason.TOO_LONG);
    assertReason(
        () ->
            new MediaDecoder(d.withMaxDecodeTime(Duration.ofNanos(1)))
                .decodeVideo(video, 100, null),
        Reason.DECODE_TIMEOUT);
    assertReason(
        () -> new MediaDecoder(d.withMaxBytes(1000)).decodeVideo(video, 100, null),
        Reason.TOO_MANY_BYTES);
    assertReason(
        () -> decoder.decodeVideo(video, 100, ClipRange.frames(30, 40)), Reason.INVALID_CLIP);
  }

  @Test
  void interruptedDecodeStops() {
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> decoder.decodeVideo(video, 100, null))
          .isInstanceOf(java.util.concurrent.CancellationException.class)
          .hasMessageContaining("interrupted");
    } finally {
      Thread.interrupted();
    }
  }

  // ------------------------------------------------------------------ images

  @Test
  void pngDecodesExactly() throws Exception {
    BufferedImage bi = new BufferedImage(5, 3, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 3; y++) {
      for (int x = 0; x < 5; x++) {
        bi.setRGB(x, y, (x * 50) << 16 | (y * 100) << 8 | (x + y));
      }
    }
    DecodedMedia m = decoder.decodeImage(encode(bi, "png"));
    assertThat(m.kind()).isEqualTo(DecodedMedia.Kind.IMAGE);
    assertThat(m.isVideo()).isFalse();
    assertThat(m.info().width()).isEqualTo(5);
    assertThat(m.info().height()).isEqualTo(3);
    RgbImage img = m.frames().get(0);
    assertThat(img.get(4, 2, 0)).isEqualTo(200);
    assertThat(img.get(4, 2, 1)).isEqualTo(200);
    assertThat(img.get(4, 2, 2)).isEqualTo(6);
    assertThat(img.get(1, 0, 0)).isEqualTo(50);
  }

  @Test
  void greyAndAlphaPngsBecomeRgbWithoutConversion() throws Exception {
    BufferedImage grey = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
    grey.getRaster().setSample(0, 0, 0, 128);
    grey.getRaster().setSample(1, 0, 0, 7);
    RgbImage g = decoder.decodeImage(encode(grey, "png")).frames().get(0);
    assertThat(new int[] {g.get(0, 0, 0), g.get(0, 0, 1), g.get(0, 0, 2), g.get(1, 0, 2)})
        .containsExactly(128, 128, 128, 7);

    BufferedImage argb = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
    argb.setRGB(0, 0, 0x10_20_30_40); // alpha 0x10 is dropped, not composited
    RgbImage a = decoder.decodeImage(encode(argb, "png")).frames().get(0);
    assertThat(new int[] {a.get(0, 0, 0), a.get(0, 0, 1), a.get(0, 0, 2)})
        .containsExactly(0x20, 0x30, 0x40);
  }

  @Test
  void jpegDecodesCloseToItsColour() throws Exception {
    BufferedImage bi = new BufferedImage(16, 16, BufferedImage.TYPE_3BYTE_BGR);
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 16; x++) {
        bi.setRGB(x, y, 200 << 16 | 60 << 8 | 30);
      }
    }
    RgbImage img = decoder.decodeImage(encode(bi, "jpeg")).frames().get(0);
    assertThat(img.get(8, 8, 0)).isCloseTo(200, within(4));
    assertThat(img.get(8, 8, 1)).isCloseTo(60, within(4));
    assertThat(img.get(8, 8, 2)).isCloseTo(30, within(4));
  }

  @Test
  void badImages() throws Exception {
    BufferedImage bi = new BufferedImage(64, 64, BufferedImage.TYPE_3BYTE_BGR);
    byte[] jpeg = encode(bi, "jpeg");
    assertReason(
        () -> decoder.decodeImage(Arrays.copyOf(jpeg, jpeg.length / 2)), Reason.UNREADABLE);
    assertReason(
        () -> decoder.decodeImage("not an image".getBytes(StandardCharsets.UTF_8)),
        Reason.UNREADABLE);
    assertReason(
        () -> new MediaDecoder(MediaLimits.defaults().withMaxSize(32, 32)).decodeImage(jpeg),
        Reason.BAD_DIMENSIONS);
  }

  @Test
  void preDecodedFrames() {
    RgbImage a = RgbImage.solid(4, 4, 1, 1, 1);
    RgbImage b = RgbImage.solid(4, 4, 2, 2, 2);
    DecodedMedia m = decoder.fromFrames(List.of(a, b, a), 2.0);
    assertThat(m.frames()).containsExactly(a, b, a);
    assertThat(m.sampledIndices()).containsExactly(0, 1, 2);
    assertThat(m.info().durationSeconds()).isEqualTo(1.5);
    assertReason(
        () -> decoder.fromFrames(List.of(a, RgbImage.solid(5, 4, 0, 0, 0)), 2.0),
        Reason.INVALID_FRAMES);
    assertReason(() -> decoder.fromFrames(List.of(a), 0.0), Reason.INVALID_FRAMES);
  }

  @Test
  void decodeDispatchesOnContent() throws Exception {
    assertThat(
            decoder
                .decode(
                    encode(new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB), "png"), 100, null)
                .kind())
        .isEqualTo(DecodedMedia.Kind.IMAGE);
    DecodedMedia v = decoder.decode(Files.readAllBytes(video), 3, null);
    assertThat(v.kind()).isEqualTo(DecodedMedia.Kind.VIDEO);
    assertThat(v.sampledIndices()).containsExactly(0, 14, 29); // 14.5 -> 14 (half-even)
  }

  @Test
  void sniffing() throws Exception {
    assertThat(
            MediaDecoder.looksLikeImage(
                encode(new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB), "png")))
        .isTrue();
    assertThat(MediaDecoder.looksLikeImage(Files.readAllBytes(video))).isFalse();
  }

  private static byte[] encode(BufferedImage bi, String format) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertThat(ImageIO.write(bi, format, out)).isTrue();
    return out.toByteArray();
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}

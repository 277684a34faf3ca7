package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.llavast.models.PixelFrames;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Pillow port against outputs of Pillow itself ({@code src/test/resources/media/pillow}, made
 * by {@code generate_pillow_fixtures.py} with Debian's Pillow 9.4.0), and the normalisation against
 * hand values.
 */
class ImagePreprocessorTest {
  private static final String DIR = "/media/pillow/";

  /** Grey levels ImageIO's JPEG decoder may differ from Pillow's by (measured on JDK 17: 0). */
  private static final int DECODE_TOLERANCE = 1;

  private static ExecutorService pool;

  @BeforeAll
  static void startPool() {
    pool = Executors.newFixedThreadPool(2);
  }

  @AfterAll
  static void stopPool() {
    pool.shutdownNow();
  }

  record Fixture(String name, String pattern, int width, int height, String sha256) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Fixture> fixtures() throws IOException {
    List<Fixture> out = new ArrayList<>();
    try (InputStream in = ImagePreprocessorTest.class.getResourceAsStream(DIR + "fixtures.txt");
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split("\\s+");
        out.add(new Fixture(f[0], f[1], Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[4]));
      }
    }
    assertThat(out).hasSize(6);
    return out.stream();
  }

  /** The same integer formulas as generate_pillow_fixtures.py. */
  static int noise(long x, long y, long c) {
    return (int) (((x * x * 31 + y * 17 + x * y * 7 + c * 101) * 2654435761L >> 13) & 0xFF);
  }

  static int gradient(int x, int y, int c, int w, int h) {
    if (c == 0) {
      return x * 255 / (w - 1);
    }
    if (c == 1) {
      return y * 255 / (h - 1);
    }
    return (x + y) * 255 / (w + h - 2);
  }

  static int scene(int x, int y, int c, int w, int h) {
    int v = Math.min(255, Math.max(0, gradient(x, y, c, w, h) + (noise(x, y, c) & 31) - 16));
    if (x < w / 3 && ((x / 16 + y / 16) % 2 == 0)) {
      v = c != 1 ? 255 : 0;
    }
    return v;
  }

  static RgbImage input(Fixture f) {
    byte[] px = new byte[f.width() * f.height() * 3];
    for (int y = 0; y < f.height(); y++) {
      for (int x = 0; x < f.width(); x++) {
        for (int c = 0; c < 3; c++) {
          int v =
              switch (f.pattern()) {
                case "noise" -> noise(x, y, c);
                case "gradient" -> gradient(x, y, c, f.width(), f.height());
                default -> scene(x, y, c, f.width(), f.height());
              };
          px[(y * f.width() + x) * 3 + c] = (byte) v;
        }
      }
    }
    return new RgbImage(f.width(), f.height(), px);
  }

  static RgbImage pillowOutput(Fixture f) throws IOException {
    try (InputStream in =
        ImagePreprocessorTest.class.getResourceAsStream(DIR + f.name() + ".png")) {
      return MediaDecoder.toRgb(ImageIO.read(in));
    }
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void resizeMatchesPillowBicubicExactly(Fixture f) throws Exception {
    RgbImage expected = pillowOutput(f);
    assertThat(
            HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(expected.rgb())))
        .as("the stored PNG is the output the generator hashed")
        .isEqualTo(f.sha256());

    RgbImage actual = new ImagePreprocessor().resize(input(f));

    assertThat(actual.width()).isEqualTo(384);
    assertThat(actual.height()).isEqualTo(384);
    int maxErr = 0;
    int differing = 0;
    for (int i = 0; i < actual.rgb().length; i++) {
      int d = Math.abs((actual.rgb()[i] & 0xff) - (expected.rgb()[i] & 0xff));
      maxErr = Math.max(maxErr, d);
      differing += d != 0 ? 1 : 0;
    }
    System.out.printf(
        "pillow fixture %s: max |java - pillow| = %d grey levels, %d samples differ%n",
        f.name(), maxErr, differing);
    assertThat(maxErr).as("max error vs Pillow, grey levels").isLessThanOrEqualTo(1);
    assertThat(actual.rgb()).as("bit-exact vs Pillow").isEqualTo(expected.rgb());
  }

  static int maxError(RgbImage a, RgbImage b) {
    assertThat(a.width()).isEqualTo(b.width());
    assertThat(a.height()).isEqualTo(b.height());
    int max = 0;
    for (int i = 0; i < a.rgb().length; i++) {
      max = Math.max(max, Math.abs((a.rgb()[i] & 0xff) - (b.rgb()[i] & 0xff)));
    }
    return max;
  }

  static byte[] resource(String name) throws IOException {
    try (InputStream in = ImagePreprocessorTest.class.getResourceAsStream(DIR + name)) {
      return in.readAllBytes();
    }
  }

  @Test
  void jpegPathAgainstPillow() throws Exception {
    // photo_97x61.jpg was written by Pillow; .decoded.png is Image.open().convert('RGB'),
    // .resized.png its
    // 384x384 BICUBIC resize (generate_jpeg_fixture.py)
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    RgbImage ours = decoder.decodeImage(resource("photo_97x61.jpg")).frames().get(0);
    RgbImage pillowDecoded =
        decoder.decodeImage(resource("photo_97x61.decoded.png")).frames().get(0);
    RgbImage pillowResized =
        decoder.decodeImage(resource("photo_97x61.resized.png")).frames().get(0);
    ImagePreprocessor pre = new ImagePreprocessor();

    int decodeErr = maxError(ours, pillowDecoded);
    int endToEndErr = maxError(pre.resize(ours), pillowResized);
    System.out.printf(
        "jpeg vs Pillow: decode max error %d, decode+resize max error %d grey levels%n",
        decodeErr, endToEndErr);
    // the resize itself is exact; JPEG decoders (ImageIO's libjpeg vs libjpeg-turbo) may differ
    // slightly
    assertThat(maxError(pre.resize(pillowDecoded), pillowResized)).isZero();
    assertThat(decodeErr).isLessThanOrEqualTo(DECODE_TOLERANCE);
    assertThat(endToEndErr).isLessThanOrEqualTo(DECODE_TOLERANCE);
  }

  @Test
  void keysCubicKernelValues() {
    // a = -0.5: k(0) = 1, k(1) = 0, k(0.5) = 0.5625, k(1.5) = -0.0625, k(2) = 0
    assertThat(PillowBicubic.filter(0)).isEqualTo(1.0);
    assertThat(PillowBicubic.filter(1)).isEqualTo(0.0);
    assertThat(PillowBicubic.filter(0.5)).isEqualTo(0.5625);
    assertThat(PillowBicubic.filter(-0.5)).isEqualTo(0.5625);
    assertThat(PillowBicubic.filter(1.5)).isEqualTo(-0.0625);
    assertThat(PillowBicubic.filter(2)).isEqualTo(0.0);
  }

  @Test
  void downscaleWidensTheSupportByTheScaleFactor() {
    // 1000 -> 384: scale 2.604..., support 5.208, ksize 2*6+1 = 13; upscale keeps support 2, ksize
    // 5
    assertThat(PillowBicubic.coefficients(1000, 384).ksize()).isEqualTo(13);
    assertThat(PillowBicubic.coefficients(50, 384).ksize()).isEqualTo(5);
    // weights of each output sample sum to 1.0 in 22-bit fixed point, within rounding of each
    // weight
    PillowBicubic.Coefficients c = PillowBicubic.coefficients(1000, 384);
    for (int xx = 0; xx < 384; xx++) {
      long sum = 0;
      for (int k = 0; k < c.ksize(); k++) {
        sum += c.weights()[xx * c.ksize() + k];
      }
      assertThat(sum).isCloseTo(1L << 22, within((long) c.ksize()));
    }
  }

  @Test
  void sameSizeIsUntouched() {
    RgbImage img = RgbImage.solid(384, 384, 1, 2, 3);
    assertThat(new ImagePreprocessor().resize(img)).isSameAs(img);
  }

  @Test
  void normalisationMapsToMinusOneOne() {
    ImagePreprocessor p = new ImagePreprocessor(2, 4);
    byte[] px = {0, (byte) 255, (byte) 128, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    float[] out = new float[12];
    p.normalizeInto(new RgbImage(2, 2, px), out, 0);
    // CHW: R plane = pixels' R, ...
    assertThat(out[0]).isEqualTo(-1.0f);
    assertThat(out[1]).isCloseTo((float) ((1 / 255.0 - 0.5) / 0.5), within(1e-7f));
    assertThat(out[4]).isEqualTo(1.0f); // G of pixel 0 = 255
    assertThat(out[8])
        .isCloseTo((float) ((128 / 255.0 - 0.5) / 0.5), within(1e-7f)); // B of pixel 0
    assertThat(out[8]).isCloseTo(0.003921628f, within(1e-7f));
  }

  @Test
  void imagePreparesOneFrameWithItsOriginalSize() {
    DecodedMedia img = MediaDecoder.asImage(RgbImage.solid(50, 37, 0, 255, 0));
    ImagePreprocessor.Prepared p = new ImagePreprocessor().prepare(img, "img", pool);
    assertThat(p.pixels().video()).isFalse();
    assertThat(p.pixels().frames()).isEqualTo(1);
    assertThat(p.pixels().mediaKey()).isEqualTo("img");
    assertThat(p.kind()).isEqualTo(DecodedMedia.Kind.IMAGE);
    assertThat(p.sampling().info().width()).isEqualTo(50);
    assertThat(p.sampling().info().height()).isEqualTo(37);
    assertThat(p.pixels().pixels()[384 * 384 + 5]).isEqualTo(1f); // G plane
  }

  @Test
  void preprocessBuildsPixelFramesInParallelAndSharesRepeatedFrames() {
    RgbImage red = RgbImage.solid(40, 30, 255, 0, 0);
    RgbImage blue = RgbImage.solid(40, 30, 0, 0, 255);
    DecodedMedia media =
        new MediaDecoder(MediaLimits.defaults()).sampleFrames(List.of(red, blue), 1.0, 5, null);
    // indices 0, rint(0.25), rint(0.5)=0, rint(0.75)=1, 1 -> red, red, red, blue, blue
    assertThat(media.sampledIndices()).containsExactly(0, 0, 0, 1, 1);

    PixelFrames pf = new ImagePreprocessor().preprocess(media, "k", pool);

    assertThat(pf.frames()).isEqualTo(5);
    assertThat(pf.size()).isEqualTo(384);
    assertThat(pf.video()).isTrue();
    int per = 3 * 384 * 384;
    int plane = 384 * 384;
    for (int t = 0; t < 5; t++) {
      boolean isRed = t < 3;
      assertThat(pf.pixels()[t * per + 1000]).isEqualTo(isRed ? 1f : -1f); // R
      assertThat(pf.pixels()[t * per + plane + 1000]).isEqualTo(-1f); // G
      assertThat(pf.pixels()[t * per + 2 * plane + 77]).isEqualTo(isRed ? -1f : 1f); // B
    }
  }

  static byte[] png(RgbImage img) throws IOException {
    java.awt.image.BufferedImage bi =
        new java.awt.image.BufferedImage(
            img.width(), img.height(), java.awt.image.BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < img.height(); y++) {
      for (int x = 0; x < img.width(); x++) {
        bi.setRGB(x, y, (img.get(x, y, 0) << 16) | (img.get(x, y, 1) << 8) | img.get(x, y, 2));
      }
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    ImageIO.write(bi, "png", out);
    return out.toByteArray();
  }

  static RgbImage texture(int w, int h, int seed) {
    byte[] px = new byte[w * h * 3];
    for (int i = 0; i < px.length; i++) {
      px[i] = (byte) noise(i % (3 * w), i / (3 * w), seed);
    }
    return new RgbImage(w, h, px);
  }

  @Test
  void framesUploadDecodesOnlyTheSampledFramesAndMatchesDecodeThenPreprocess() throws Exception {
    List<RgbImage> frames = new ArrayList<>();
    List<byte[]> encoded = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      frames.add(texture(41, 29, i));
      encoded.add(png(frames.get(i)));
    }
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    ImagePreprocessor pre = new ImagePreprocessor();
    DecodedMedia reference = decoder.sampleFrames(frames, 2.0, 4, null);
    // indices 0, 3, 6, 9: the others are never decoded, so garbage there goes unnoticed
    assertThat(reference.sampledIndices()).containsExactly(0, 3, 6, 9);
    encoded.set(1, new byte[] {1, 2, 3});
    encoded.set(8, new byte[] {(byte) 0x89, 'P', 'N', 'G'});
    StageTimes times = new StageTimes();

    ImagePreprocessor.Prepared p =
        pre.prepareFrames(decoder, encoded, 2.0, 4, null, "f", pool, times);

    assertThat(p.kind()).isEqualTo(DecodedMedia.Kind.FRAMES);
    assertThat(p.sampling().sampledIndices()).containsExactly(0, 3, 6, 9);
    assertThat(p.sampling().info().frameCount()).isEqualTo(10);
    assertThat(p.sampling().info().width()).isEqualTo(41);
    assertThat(p.sampling().info().height()).isEqualTo(29);
    assertThat(p.pixels().pixels()).isEqualTo(pre.preprocess(reference, "f", pool).pixels());
    assertThat(times.framesDecoded()).isEqualTo(4);
    assertThat(times.framesResized()).isEqualTo(4);
  }

  @Test
  void framesUploadWithRepeatsAndAClip() throws Exception {
    List<RgbImage> frames = new ArrayList<>();
    List<byte[]> encoded = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      frames.add(texture(20, 16, 100 + i));
      encoded.add(png(frames.get(i)));
    }
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    ImagePreprocessor pre = new ImagePreprocessor();
    ClipRange clip = ClipRange.frames(1, 3);
    DecodedMedia reference = decoder.sampleFrames(frames, 1.0, 7, clip);

    ImagePreprocessor.Prepared p =
        pre.prepareFrames(decoder, encoded, 1.0, 7, clip, "f", pool, new StageTimes());

    assertThat(p.sampling().sampledIndices()).isEqualTo(reference.sampledIndices());
    assertThat(p.sampling().clipStart()).isEqualTo(1);
    assertThat(p.sampling().clipEnd()).isEqualTo(3);
    assertThat(p.pixels().pixels()).isEqualTo(pre.preprocess(reference, "f", pool).pixels());
  }

  @Test
  void framesUploadRefusesABrokenOrMisSizedSampledFrame() throws Exception {
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    ImagePreprocessor pre = new ImagePreprocessor();
    List<byte[]> broken =
        new ArrayList<>(List.of(png(texture(8, 8, 1)), new byte[] {(byte) 0xFF, (byte) 0xD8, 0}));
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> pre.prepareFrames(decoder, broken, 1.0, 2, null, "f", pool, new StageTimes()))
        .isInstanceOf(MediaException.class)
        .hasMessageContaining("frame 1: ");
    List<byte[]> sizes = List.of(png(texture(8, 8, 1)), png(texture(9, 8, 2)));
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> pre.prepareFrames(decoder, sizes, 1.0, 2, null, "f", pool, new StageTimes()))
        .isInstanceOfSatisfying(
            MediaException.class,
            e -> assertThat(e.reason()).isEqualTo(MediaException.Reason.INVALID_FRAMES));
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> pre.prepareFrames(decoder, List.of(), 1.0, 2, null, "f", pool, new StageTimes()))
        .isInstanceOfSatisfying(
            MediaException.class,
            e -> assertThat(e.reason()).isEqualTo(MediaException.Reason.EMPTY));
  }
}

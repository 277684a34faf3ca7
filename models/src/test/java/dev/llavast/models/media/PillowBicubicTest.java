package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The fast {@link PillowBicubic} against the straightforward port it replaced ({@link
 * PillowBicubicReference}, itself bit-exact against Pillow on the fixtures of {@link
 * ImagePreprocessorTest}): every output byte must be equal on random images of many shapes,
 * shrinking, enlarging, and with one axis kept.
 */
class PillowBicubicTest {

  private static RgbImage random(SplittableRandom r, int w, int h) {
    byte[] px = new byte[w * h * 3];
    int mode = r.nextInt(3);
    for (int i = 0; i < px.length; i++) {
      // pure noise, extremes only (where clipping after each pass matters), or a smooth ramp
      px[i] =
          (byte)
              switch (mode) {
                case 0 -> r.nextInt(256);
                case 1 -> r.nextBoolean() ? 0 : 255;
                default -> (i / 3 % w) * 255 / Math.max(1, w - 1);
              };
    }
    return new RgbImage(w, h, px);
  }

  private static void assertSame(RgbImage src, int outW, int outH) {
    RgbImage expected = PillowBicubicReference.resize(src, outW, outH);
    RgbImage actual = PillowBicubic.resize(src, outW, outH);
    assertThat(actual.width()).isEqualTo(outW);
    assertThat(actual.height()).isEqualTo(outH);
    assertThat(actual.rgb())
        .as("%dx%d -> %dx%d", src.width(), src.height(), outW, outH)
        .isEqualTo(expected.rgb());
  }

  @Test
  void equalToTheReferenceOnRandomShapesTo384() {
    SplittableRandom r = new SplittableRandom(15);
    for (int i = 0; i < 60; i++) {
      int w = 1 + r.nextInt(1300);
      int h = 1 + r.nextInt(900);
      assertSame(random(r, w, h), 384, 384);
    }
  }

  @Test
  void equalToTheReferenceOnTheBenchmarkShapes() {
    SplittableRandom r = new SplittableRandom(7);
    for (int[] s : new int[][] {{320, 480}, {320, 240}, {640, 360}, {1280, 720}, {1920, 1080}}) {
      assertSame(random(r, s[0], s[1]), 384, 384);
    }
  }

  @Test
  void equalToTheReferenceForAnyOutputSizeAndKeptAxes() {
    SplittableRandom r = new SplittableRandom(42);
    for (int i = 0; i < 200; i++) {
      int w = 1 + r.nextInt(200);
      int h = 1 + r.nextInt(200);
      RgbImage img = random(r, w, h);
      int outW =
          switch (i % 4) {
            case 0 -> w; // vertical pass only
            default -> 1 + r.nextInt(300);
          };
      int outH =
          switch (i % 4) {
            case 1 -> h; // horizontal pass only
            default -> 1 + r.nextInt(300);
          };
      if (outW == w && outH == h) {
        assertThat(PillowBicubic.resize(img, outW, outH)).isSameAs(img);
      } else {
        assertSame(img, outW, outH);
      }
    }
  }

  /**
   * Shapes at and around the blocking of the fast horizontal pass (bands of 64 rows, transposes of
   * 128 input columns, blocks of 16 output columns): the last band, block or column group short, a
   * single one, or exactly full.
   */
  @Test
  void equalToTheReferenceAtBlockBoundaries() {
    SplittableRandom r = new SplittableRandom(64);
    int[] widths = {1, 2, 15, 16, 17, 127, 128, 129, 256, 257};
    int[] heights = {1, 2, 63, 64, 65, 128, 129, 200};
    int[] outs = {1, 15, 16, 17, 33, 384};
    for (int w : widths) {
      for (int h : heights) {
        RgbImage img = random(r, w, h);
        for (int i = 0; i < 3; i++) {
          int outW = outs[r.nextInt(outs.length)];
          int outH = outs[r.nextInt(outs.length)];
          if (outW != w || outH != h) {
            assertSame(img, outW, outH);
          }
        }
        assertSame(img, 384, 384);
      }
    }
  }

  /** The per-thread scratch outgrown, then reused by a smaller image: stale contents don't leak. */
  @Test
  void equalToTheReferenceAfterLargerImagesOnTheSameThread() {
    SplittableRandom r = new SplittableRandom(11);
    int[][] shapes = {{1000, 700}, {30, 20}, {640, 360}, {7, 300}, {1280, 90}, {320, 480}};
    for (int[] s : shapes) {
      RgbImage img = random(r, s[0], s[1]);
      assertSame(img, 384, 384);
      assertSame(img, 100, 61);
      assertSame(img, s[0], 384);
      assertSame(img, 384, s[1]);
    }
  }

  @Test
  void extremeRatios() {
    SplittableRandom r = new SplittableRandom(3);
    assertSame(random(r, 1, 1), 384, 384);
    assertSame(random(r, 4000, 3), 384, 384);
    assertSame(random(r, 2, 3000), 384, 384);
    assertSame(random(r, 384, 385), 384, 384);
    assertSame(random(r, 383, 384), 384, 384);
  }

  @Test
  void cachedCoefficientsAreTheComputedOnes() {
    PillowBicubic.Coefficients a = PillowBicubic.cachedCoefficients(1000, 384);
    PillowBicubic.Coefficients b = PillowBicubic.coefficients(1000, 384);
    assertThat(PillowBicubic.cachedCoefficients(1000, 384)).isSameAs(a);
    assertThat(a.ksize()).isEqualTo(b.ksize());
    assertThat(a.bounds()).isEqualTo(b.bounds());
    assertThat(a.weights()).isEqualTo(b.weights());
  }
}

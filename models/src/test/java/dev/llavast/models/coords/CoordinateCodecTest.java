package dev.llavast.models.coords;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.llavast.models.media.FrameSampler;
import org.junit.jupiter.api.Test;

class CoordinateCodecTest {
  static final int V = 151660;
  final CoordinateCodec codec = new CoordinateCodec(V, 100);

  @Test
  void idsMapToAxesAndBins() {
    assertThat(codec.isBin(V - 1)).isFalse();
    assertThat(codec.isBin(V + 300)).isFalse();
    assertThat(codec.axisOf(V)).isEqualTo(Axis.TIME);
    assertThat(codec.axisOf(V + 99)).isEqualTo(Axis.TIME);
    assertThat(codec.axisOf(V + 100)).isEqualTo(Axis.HEIGHT);
    assertThat(codec.axisOf(V + 200)).isEqualTo(Axis.WIDTH);
    assertThat(codec.binOf(V + 257)).isEqualTo(57);
    for (Axis a : Axis.values()) {
      for (int k = 0; k < 100; k++) {
        int id = codec.tokenId(a, k);
        assertThat(codec.axisOf(id)).isEqualTo(a);
        assertThat(codec.binOf(id)).isEqualTo(k);
      }
    }
    assertThatThrownBy(() -> codec.axisOf(5)).hasMessageContaining("token id 5");
    assertThatThrownBy(() -> codec.tokenId(Axis.TIME, 100)).hasMessageContaining("bin 100");
  }

  @Test
  void normalizedDividesByNinetyNine() {
    assertThat(codec.normalized(0)).isEqualTo(0.0);
    assertThat(codec.normalized(99)).isEqualTo(1.0);
    assertThat(codec.normalized(10)).isEqualTo(10 / 99.0);
    // the reference's "{:.5f}" of <WIDTH-010> is 0.10101
    assertThat(String.format("%.5f", codec.normalized(10))).isEqualTo("0.10101");
    assertThat(codec.binOfNormalized(0.10101)).isEqualTo(10);
    assertThat(codec.binOfNormalized(-0.2)).isZero();
    assertThat(codec.binOfNormalized(1.7)).isEqualTo(99);
  }

  @Test
  void inputRoundingIsPythonRoundToThreeDecimals() {
    // values from CPython: round(0.1235, 3) = 0.123 (0.1235 is stored below the tie), round(0.0005,
    // 3) = 0.001,
    // round(0.0015, 3) = 0.002, round(1/3, 3) = 0.333
    assertThat(CoordinateCodec.roundInput(0.1235)).isEqualTo(0.123);
    assertThat(CoordinateCodec.roundInput(0.0005)).isEqualTo(0.001);
    assertThat(CoordinateCodec.roundInput(0.0015)).isEqualTo(0.002);
    assertThat(CoordinateCodec.roundInput(1 / 3.0)).isEqualTo(0.333);
    assertThat(CoordinateCodec.roundInput(1.2)).isEqualTo(1.0);
    assertThat(CoordinateCodec.roundInput(-0.01)).isEqualTo(0.0);
  }

  @Test
  void timeBinsAreTheSampledFrames() {
    // clip [5, 20] at 10 fps: D-1 = 15; bin k -> 5 + rint(k/99*15)
    // CPython: k=1 -> 5, k=33 -> 10, k=50 -> 13 (7.58), k=66 -> 15, k=97 -> 20 (14.7), k=99 -> 20
    TimeAxis t = codec.time(5, 20, 10.0);
    assertThat(t.frameOfBin(0)).isEqualTo(5);
    assertThat(t.frameOfBin(1)).isEqualTo(5);
    assertThat(t.frameOfBin(33)).isEqualTo(10);
    assertThat(t.frameOfBin(50)).isEqualTo(13);
    assertThat(t.frameOfBin(66)).isEqualTo(15);
    assertThat(t.frameOfBin(97)).isEqualTo(20);
    assertThat(t.secondsOfBin(50)).isCloseTo(0.8, within(1e-12));
    assertThat(t.absoluteSecondsOfBin(50)).isCloseTo(1.3, within(1e-12));
    Timestamp ts = t.timestamp(66);
    assertThat(ts.bin()).isEqualTo(66);
    assertThat(ts.normalized()).isEqualTo(66 / 99.0);
    assertThat(ts.frame()).isEqualTo(15);
    assertThat(ts.seconds()).isCloseTo(1.0, within(1e-12));
    // bin k is exactly sampled frame k
    int[] sampled = FrameSampler.sample(5, 20, 100);
    for (int k = 0; k < 100; k++) {
      assertThat(t.frameOfBin(k)).isEqualTo(sampled[k]);
    }
  }

  @Test
  void secondsInputIsNormalizedOverTheClip() {
    TimeAxis t = codec.time(0, 829, 25.0); // the demo split, 25 fps: D-1 = 829
    // 10 s -> 250 frames -> 250/829 = 0.30157 -> 0.302
    assertThat(t.normalizedOfSeconds(10.0)).isEqualTo(0.302);
    assertThat(t.normalizedOfSeconds(40.0)).isEqualTo(1.0);
    assertThat(codec.time(3, 3, 25.0).normalizedOfSeconds(1.0)).isEqualTo(0.0);
  }

  @Test
  void binToSecondsToBinRoundTripsWhenTheClipHasEnoughFrames() {
    for (int[] clip : new int[][] {{0, 829}, {0, 99}, {17, 117}, {40, 2000}}) {
      TimeAxis t = codec.time(clip[0], clip[1], 29.97);
      for (int k = 0; k < 100; k++) {
        assertThat(t.binOfSeconds(t.secondsOfBin(k)))
            .as("clip %d..%d bin %d", clip[0], clip[1], k)
            .isEqualTo(k);
      }
    }
    // with fewer frames than bins, seconds -> bin -> seconds lands on the same frame
    TimeAxis short10 = codec.time(0, 9, 10.0);
    for (int f = 0; f < 10; f++) {
      double s = f / 10.0;
      assertThat(short10.secondsOfBin(short10.binOfSeconds(s))).isCloseTo(s, within(1e-12));
    }
  }

  @Test
  void pixelsBothWays() {
    SpaceAxis s = codec.space(640, 480);
    assertThat(s.pixelsOfBin(Axis.WIDTH, 99)).isEqualTo(640.0);
    assertThat(s.pixelsOfBin(Axis.HEIGHT, 33)).isCloseTo(160.0, within(1e-9)); // 33/99 * 480
    assertThat(s.binOfPixels(Axis.WIDTH, 320)).isEqualTo(50); // 0.5 * 99 = 49.5 -> 50 (half-even)
    assertThat(s.binOfPixels(Axis.HEIGHT, 0)).isZero();
    assertThat(s.normalizedOfPixels(Axis.WIDTH, 100))
        .isEqualTo(0.156); // 0.15625 -> 0.156 (exact tie -> even)
    for (int k = 0; k < 100; k++) {
      assertThat(s.binOfPixels(Axis.WIDTH, s.pixelsOfBin(Axis.WIDTH, k))).isEqualTo(k);
      assertThat(s.binOfPixels(Axis.HEIGHT, s.pixelsOfBin(Axis.HEIGHT, k))).isEqualTo(k);
    }
    // pixel -> bin -> pixel is within half a bin
    for (int px = 0; px <= 640; px += 7) {
      double back = s.pixelsOfBin(Axis.WIDTH, s.binOfPixels(Axis.WIDTH, px));
      assertThat(Math.abs(back - px)).isLessThanOrEqualTo(640 / 99.0 / 2 + 1e-9);
    }
    Box b = s.box(10, 20, 50, 80);
    assertThat(b.bins()).containsExactly(10, 20, 50, 80);
    assertThat(b.pixels()[0]).isCloseTo(10 / 99.0 * 640, within(1e-9));
    assertThat(b.pixels()[3]).isCloseTo(80 / 99.0 * 480, within(1e-9));
    assertThatThrownBy(() -> s.pixelsOfBin(Axis.TIME, 3))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class FrameSamplerTest {

  @Test
  void halfEvenTiesInAClip() {
    // s=5, e=20: D-1 = 15, n = 7: i/6*15 = 0, 2.5, 5, 7.5, 10, 12.5, 15
    // half-even: 2.5 -> 2, 7.5 -> 8, 12.5 -> 12 (Math.round would give 3, 8, 13)
    assertThat(FrameSampler.sample(5, 20, 7)).containsExactly(5, 7, 10, 13, 15, 17, 20);
  }

  @Test
  void shortClipRepeatsFrames() {
    // s=2, e=6: D-1 = 4, n = 10: i/9*4 = 0, .44, .89, 1.33, 1.78, 2.22, 2.67, 3.11, 3.56, 4
    assertThat(FrameSampler.sample(2, 6, 10)).containsExactly(2, 2, 3, 3, 4, 4, 5, 5, 6, 6);
  }

  @Test
  void hundredFramesOfThirty() {
    int[] idx = FrameSampler.sample(0, 29, 100);
    assertThat(idx).hasSize(100);
    assertThat(idx[0]).isZero();
    assertThat(idx[99]).isEqualTo(29);
    // i=1: 29/99 = 0.29 -> 0; i=2: 0.586 -> 1; i=50: 14.646 -> 15; i=51: 14.94 -> 15; i=97: 28.414
    // -> 28
    assertThat(idx[1]).isZero();
    assertThat(idx[2]).isEqualTo(1);
    assertThat(idx[50]).isEqualTo(15);
    assertThat(idx[51]).isEqualTo(15);
    assertThat(idx[97]).isEqualTo(28);
    for (int i = 1; i < 100; i++) {
      assertThat(idx[i]).isGreaterThanOrEqualTo(idx[i - 1]);
    }
  }

  @Test
  void exactlyOnePerFrameWhenDEqualsN() {
    int[] idx = FrameSampler.sample(10, 109, 100);
    for (int i = 0; i < 100; i++) {
      assertThat(idx[i]).isEqualTo(10 + i);
    }
  }

  @Test
  void demoSplit() {
    // split [0, 829]: D-1 = 829; i=1: 8.3737 -> 8; i=3: 25.12 -> 25; i=50: 418.69 -> 419; i=99: 829
    int[] idx = FrameSampler.sample(0, 829, 100);
    assertThat(idx[1]).isEqualTo(8);
    assertThat(idx[3]).isEqualTo(25);
    assertThat(idx[50]).isEqualTo(419);
    assertThat(idx[99]).isEqualTo(829);
  }

  @Test
  void singleFrameClipAndSingleSample() {
    assertThat(FrameSampler.sample(7, 7, 3)).containsExactly(7, 7, 7);
    assertThat(FrameSampler.sample(3, 9, 1)).containsExactly(3);
  }

  @Test
  void rejectsBadArguments() {
    assertThatThrownBy(() -> FrameSampler.sample(5, 4, 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[5, 4]");
    assertThatThrownBy(() -> FrameSampler.sample(0, 4, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("numFrames");
  }

  @Test
  void clipSecondsToFrames() {
    // 10 fps, 30 frames: [0.5 s, 2.0 s] -> [5, 20]; 0.25 s * 10 = 2.5 -> 2 (half-even); end past
    // the video clamps
    assertThat(ClipRange.seconds(0.5, 2.0).resolve(30, 10.0)).containsExactly(5, 20);
    assertThat(ClipRange.seconds(0.25, 99).resolve(30, 10.0)).containsExactly(2, 29);
    assertThat(ClipRange.frames(3, 1000).resolve(30, 10.0)).containsExactly(3, 29);
    assertThatThrownBy(() -> ClipRange.frames(30, 31).resolve(30, 10.0))
        .isInstanceOf(MediaException.class)
        .satisfies(
            e ->
                assertThat(((MediaException) e).reason())
                    .isEqualTo(MediaException.Reason.INVALID_CLIP));
    assertThatThrownBy(() -> ClipRange.seconds(2, 1))
        .isInstanceOf(MediaException.class)
        .satisfies(
            e ->
                assertThat(((MediaException) e).reason())
                    .isEqualTo(MediaException.Reason.INVALID_CLIP));
    assertThatThrownBy(() -> ClipRange.seconds(-1, 1)).isInstanceOf(MediaException.class);
  }
}

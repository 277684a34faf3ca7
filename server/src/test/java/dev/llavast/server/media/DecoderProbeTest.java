package dev.llavast.server.media;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.models.media.VideoInfo;
import dev.llavast.server.errors.ApiException;
import org.junit.jupiter.api.Test;

class DecoderProbeTest {
  @Test
  void aContainerWhoseFramesDoNotFitItsDurationIsRefused() {
    // a JPEG read by FFmpeg's image demuxer: 500,000 "frames" in 20 s at 25 fps
    assertThatThrownBy(() -> DecoderProbe.checkPlausible(new VideoInfo(64, 48, 25, 20, 500_000)))
        .isInstanceOf(ApiException.class)
        .hasMessageContaining("declares 500000 frames");
    assertThatThrownBy(() -> DecoderProbe.checkPlausible(new VideoInfo(64, 48, 30, 100, 20)))
        .isInstanceOf(ApiException.class);
    // ordinary videos, variable frame rate within reason, and an unknown duration pass
    assertThatCode(() -> DecoderProbe.checkPlausible(new VideoInfo(64, 48, 30, 10, 300)))
        .doesNotThrowAnyException();
    assertThatCode(() -> DecoderProbe.checkPlausible(new VideoInfo(64, 48, 29.97, 10, 280)))
        .doesNotThrowAnyException();
    assertThatCode(() -> DecoderProbe.checkPlausible(new VideoInfo(64, 48, 30, 0, 900)))
        .doesNotThrowAnyException();
  }
}

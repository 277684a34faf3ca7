package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.ffmpeg.global.swscale;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decoder's own conversion of the sampled frames ({@link RgbConverter}) against the way the
 * frames were made before: JavaCV's grabber converting every frame to RGB24 with {@code
 * SWS_BICUBIC}. Textured H.264 and MPEG-4 clips, so chroma interpolation shows; every byte of every
 * sampled frame must be equal, with one FFmpeg thread or several.
 */
class SampledDecodeParityTest {
  @TempDir static Path dir;
  static Path h264;
  static Path mpeg4;

  @BeforeAll
  static void writeVideos() throws Exception {
    h264 = TestVideos.writeTextured(dir.resolve("t.mp4"), 176, 100, 45, 30.0, "libopenh264");
    mpeg4 = TestVideos.writeTextured(dir.resolve("m.mp4"), 130, 98, 40, 25.0, "mpeg4");
  }

  /** Every frame of the file as the grabber converted it (the path the decoder used to take). */
  static List<RgbImage> grabberFrames(Path file) throws Exception {
    List<RgbImage> out = new ArrayList<>();
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(file.toFile())) {
      g.setPixelFormat(avutil.AV_PIX_FMT_RGB24);
      g.setImageScalingFlags(swscale.SWS_BICUBIC);
      g.setVideoOption("threads", "1");
      g.start();
      Frame f;
      while ((f = g.grabFrame(false, true, true, false, false)) != null) {
        if (f.image == null) {
          continue;
        }
        int w = f.imageWidth;
        int h = f.imageHeight;
        ByteBuffer buf = ((ByteBuffer) f.image[0]).duplicate();
        byte[] px = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
          buf.position(y * f.imageStride);
          buf.get(px, y * w * 3, w * 3);
        }
        out.add(new RgbImage(w, h, px));
      }
    }
    return out;
  }

  private static void assertSampledFramesEqualGrabber(Path file, int threads, int numFrames)
      throws Exception {
    List<RgbImage> all = grabberFrames(file);
    DecodedMedia m =
        new MediaDecoder(MediaLimits.defaults(), threads).decodeVideo(file, numFrames, null);
    assertThat(m.info().frameCount()).isEqualTo(all.size());
    int[] idx = m.sampledIndices();
    assertThat(idx).isEqualTo(FrameSampler.sample(0, all.size() - 1, numFrames));
    for (int i = 0; i < idx.length; i++) {
      assertThat(m.frames().get(i).rgb())
          .as("%s frame %d (sample %d), %d threads", file.getFileName(), idx[i], i, threads)
          .isEqualTo(all.get(idx[i]).rgb());
    }
    // the frames differ from each other, so equality above is not a constant
    assertThat(Arrays.equals(m.frames().get(0).rgb(), m.frames().get(idx.length - 1).rgb()))
        .isFalse();
  }

  @Test
  void h264OneThread() throws Exception {
    assertSampledFramesEqualGrabber(h264, 1, 16);
  }

  @Test
  void h264SeveralThreads() throws Exception {
    assertSampledFramesEqualGrabber(h264, 3, 45);
  }

  @Test
  void mpeg4() throws Exception {
    assertSampledFramesEqualGrabber(mpeg4, 1, 7);
    assertSampledFramesEqualGrabber(mpeg4, 2, 60); // more samples than frames: repeats
  }

  @Test
  void stageTimesCountDecodedAndConvertedFrames() {
    StageTimes t = new StageTimes();
    VideoSampling s =
        new MediaDecoder(MediaLimits.defaults(), 1).streamVideo(h264, 5, null, (i, img) -> {}, t);
    // frames 0..44 are decoded (the last one is sampled), 5 distinct ones converted
    assertThat(s.sampledIndices()).containsExactly(0, 11, 22, 33, 44);
    assertThat(t.framesDecoded()).isEqualTo(45);
    assertThat(t.framesConverted()).isEqualTo(5);
    assertThat(t.decodeNanos()).isPositive();
    assertThat(t.convertNanos()).isPositive();
  }

  @Test
  void threadCountIsBounded() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> new MediaDecoder(MediaLimits.defaults(), 0))
        .isInstanceOf(IllegalArgumentException.class);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> new MediaDecoder(MediaLimits.defaults(), MediaDecoder.MAX_DECODE_THREADS + 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(MediaDecoder.defaultDecodeThreads()).isBetween(1, 8);
  }
}

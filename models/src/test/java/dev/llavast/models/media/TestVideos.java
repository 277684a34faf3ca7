package dev.llavast.models.media;

import java.nio.ByteBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;

/** Writes small videos with known content for the decoder tests. */
final class TestVideos {
  private TestVideos() {}

  /** The colour of frame {@code i}: R and G encode the index, B is fixed. */
  static int[] colour(int i) {
    return new int[] {4 + 8 * i, 250 - 8 * i, 128};
  }

  /** The frame index a decoded colour encodes (lossy codecs move values by a few levels). */
  static int indexOf(RgbImage img) {
    int r = img.get(img.width() / 2, img.height() / 2, 0);
    return Math.round((r - 4) / 8f);
  }

  /**
   * An MPEG-4 Part 2 video of {@code frames} solid-colour frames at {@code fps}.
   *
   * @param faststart put the index (moov) first, so a truncated file still opens
   */
  static Path write(Path file, int width, int height, int frames, double fps, boolean faststart)
      throws Exception {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), width, height, 0)) {
      rec.setFormat("mp4");
      rec.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      rec.setFrameRate(fps);
      rec.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      rec.setVideoQuality(1); // qscale 1: near-lossless on flat frames
      rec.setGopSize(5);
      if (faststart) {
        rec.setOption("movflags", "faststart");
      }
      rec.start();
      Frame f = new Frame(width, height, Frame.DEPTH_UBYTE, 3);
      for (int i = 0; i < frames; i++) {
        ByteBuffer b = (ByteBuffer) f.image[0];
        int[] c = colour(i);
        for (int y = 0; y < height; y++) {
          for (int x = 0; x < width; x++) {
            int p = y * f.imageStride + x * 3;
            b.put(p, (byte) c[0]);
            b.put(p + 1, (byte) c[1]);
            b.put(p + 2, (byte) c[2]);
          }
        }
        rec.record(f, avutil.AV_PIX_FMT_RGB24);
      }
      rec.stop();
    }
    return file;
  }

  /**
   * A video of moving, textured frames (gradients, a checkerboard, a little noise), so the decoder
   * does real work and chroma interpolation matters, unlike the solid frames of {@link #write}.
   *
   * @param codec an FFmpeg encoder name: {@code libopenh264} (H.264, Constrained Baseline, CAVLC)
   *     or {@code mpeg4}
   */
  static Path writeTextured(Path file, int width, int height, int frames, double fps, String codec)
      throws Exception {
    return writeMoving(file, width, height, frames, fps, codec, false);
  }

  /**
   * An H.264 video closer to what a phone records than {@link #writeTextured}: Main profile with
   * CABAC entropy coding (openh264's default, Constrained Baseline with CAVLC, decodes about half
   * as fast per bit, which is not what camera clips cost), and sensor-like noise of up to 8 levels
   * in every channel of every pixel, new in each frame, on the same moving texture. The bitrate
   * asked for is {@code width * height * 4} bits per second, as for {@link #writeTextured}.
   */
  static Path writeCameraLike(Path file, int width, int height, int frames, double fps)
      throws Exception {
    return writeMoving(file, width, height, frames, fps, "libopenh264", true);
  }

  private static Path writeMoving(
      Path file, int width, int height, int frames, double fps, String codec, boolean camera)
      throws Exception {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), width, height, 0)) {
      rec.setFormat("mp4");
      rec.setVideoCodecName(codec);
      rec.setFrameRate(fps);
      rec.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      rec.setVideoBitrate(width * height * 4); // ~ what a phone records at this size and rate
      rec.setGopSize((int) Math.round(fps * 4));
      if (camera) {
        rec.setVideoOption("profile", Integer.toString(avcodec.AV_PROFILE_H264_MAIN));
        rec.setVideoOption("coder", "cabac");
      }
      rec.start();
      Frame f = new Frame(width, height, Frame.DEPTH_UBYTE, 3);
      ByteBuffer b = (ByteBuffer) f.image[0];
      long seed = 1;
      for (int i = 0; i < frames; i++) {
        for (int y = 0; y < height; y++) {
          int row = y * f.imageStride;
          for (int x = 0; x < width; x++) {
            int xx = x + 3 * i;
            int yy = y + i;
            seed = seed * 6364136223846793005L + 1442695040888963407L;
            int noise = (int) (seed >>> 61);
            boolean dark = ((xx >> 4) + (yy >> 4)) % 2 == 0;
            int red = ((xx * 255 / width) ^ (dark ? 0 : 0x40)) & 0xff;
            int green = (yy * 255 / height + noise) & 0xff;
            int blue = ((xx + yy) * 3 + 8 * i) & 0xff;
            if (camera) { // three values in -8..8 from the seed's other bits
              red = clamp(red + (int) ((seed >>> 40) & 0xff) % 17 - 8);
              green = clamp(green + (int) ((seed >>> 24) & 0xff) % 17 - 8);
              blue = clamp(blue + (int) ((seed >>> 8) & 0xff) % 17 - 8);
            }
            b.put(row + 3 * x, (byte) red);
            b.put(row + 3 * x + 1, (byte) green);
            b.put(row + 3 * x + 2, (byte) blue);
          }
        }
        rec.record(f, avutil.AV_PIX_FMT_RGB24);
      }
      rec.stop();
    }
    return file;
  }

  private static int clamp(int v) {
    return Math.max(0, Math.min(255, v));
  }

  /** A WAV file with one second of silence: a container without video. */
  static Path writeAudioOnly(Path file) throws Exception {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), 1)) {
      rec.setFormat("wav");
      rec.setSampleRate(8000);
      rec.setAudioCodec(avcodec.AV_CODEC_ID_PCM_S16LE);
      rec.start();
      rec.recordSamples(8000, 1, ShortBuffer.allocate(8000));
      rec.stop();
    }
    return file;
  }
}

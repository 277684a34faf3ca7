package dev.llavast.server.media;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;

/** Media the server tests make themselves: a short clip of a moving square, solid PNGs. */
public final class MediaTestFiles {
  private MediaTestFiles() {}

  /** Side of the square in {@link #movingSquare}. */
  public static final int SQUARE = 8;

  /**
   * An MPEG-4 Part 2 mp4 of {@code frames} frames at {@code fps}: a white {@value #SQUARE}-px
   * square on a dark blue background, moving one square width right per frame (wrapping around).
   */
  public static Path movingSquare(Path file, int width, int height, int frames, double fps)
      throws Exception {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), width, height, 0)) {
      rec.setFormat("mp4");
      rec.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      rec.setFrameRate(fps);
      rec.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      rec.setVideoQuality(1);
      rec.setGopSize(5);
      rec.start();
      Frame f = new Frame(width, height, Frame.DEPTH_UBYTE, 3);
      for (int i = 0; i < frames; i++) {
        ByteBuffer b = (ByteBuffer) f.image[0];
        int x0 = (i * SQUARE) % (width - SQUARE);
        int y0 = (height - SQUARE) / 2;
        for (int y = 0; y < height; y++) {
          for (int x = 0; x < width; x++) {
            boolean in = x >= x0 && x < x0 + SQUARE && y >= y0 && y < y0 + SQUARE;
            int p = y * f.imageStride + x * 3;
            b.put(p, (byte) (in ? 255 : 20));
            b.put(p + 1, (byte) (in ? 255 : 30));
            b.put(p + 2, (byte) (in ? 255 : 120));
          }
        }
        rec.record(f, avutil.AV_PIX_FMT_RGB24);
      }
      rec.stop();
    }
    return file;
  }

  /** A PNG of one colour. */
  public static byte[] png(int width, int height, int r, int g, int b) throws Exception {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    int rgb = (r << 16) | (g << 8) | b;
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        img.setRGB(x, y, rgb);
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }
}

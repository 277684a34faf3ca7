package dev.llavast.client.bench;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * Synthetic videos for the bench when no files are given: a coloured square moving over a gradient,
 * as JPEG frames (uploaded as MEDIA_KIND_FRAMES). Each seed gives different content, so each video
 * has its own media id. Stateless; any thread.
 */
public final class GeneratedVideos {
  public static final int WIDTH = 320;
  public static final int HEIGHT = 240;
  public static final double FPS = 2.0;

  private GeneratedVideos() {}

  /** {@code frames} encoded JPEG frames of video number {@code seed}. */
  public static List<byte[]> frames(long seed, int frames) {
    Random r = new Random(seed);
    Color bg = new Color(r.nextInt(0xffffff));
    Color fg = new Color(r.nextInt(0xffffff));
    int side = 30 + r.nextInt(40);
    List<byte[]> out = new ArrayList<>(frames);
    for (int f = 0; f < frames; f++) {
      BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = img.createGraphics();
      g.setPaint(new java.awt.GradientPaint(0, 0, bg, WIDTH, HEIGHT, bg.darker()));
      g.fillRect(0, 0, WIDTH, HEIGHT);
      g.setColor(fg);
      int x = (int) ((WIDTH - side) * (f / (double) Math.max(1, frames - 1)));
      int y = (HEIGHT - side) / 2 + (int) (40 * Math.sin(f + seed));
      g.fillRect(x, y, side, side);
      g.dispose();
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try {
        ImageIO.write(img, "jpg", bytes);
      } catch (IOException e) {
        throw new UncheckedIOException("JPEG encoding of a generated frame failed", e);
      }
      out.add(bytes.toByteArray());
    }
    return out;
  }
}

package dev.llavast.models.media;

import java.util.Objects;

/**
 * One decoded RGB picture, 8 bits per channel, interleaved row-major ({@code [height, width, 3]}).
 *
 * <p>Immutable by contract: the array is not copied; whoever builds the image hands the array over
 * and never writes it again. Safe to share between threads.
 *
 * @param width pixels per row, at least 1
 * @param height rows, at least 1
 * @param rgb {@code [height, width, 3]} bytes (unsigned), R then G then B
 */
public record RgbImage(int width, int height, byte[] rgb) {

  public RgbImage {
    Objects.requireNonNull(rgb, "rgb");
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException(
          "image size must be positive, got " + width + "x" + height);
    }
    long expected = 3L * width * height;
    if (rgb.length != expected) {
      throw new IllegalArgumentException(
          "rgb must hold ["
              + height
              + ", "
              + width
              + ", 3] = "
              + expected
              + " bytes, got "
              + rgb.length);
    }
  }

  /** Channel {@code c} (0 = R, 1 = G, 2 = B) of pixel ({@code x}, {@code y}) as 0..255. */
  public int get(int x, int y, int c) {
    return rgb[(y * width + x) * 3 + c] & 0xff;
  }

  /** A solid-colour image; handy for tests and padding. */
  public static RgbImage solid(int width, int height, int r, int g, int b) {
    byte[] px = new byte[3 * width * height];
    for (int i = 0; i < px.length; i += 3) {
      px[i] = (byte) r;
      px[i + 1] = (byte) g;
      px[i + 2] = (byte) b;
    }
    return new RgbImage(width, height, px);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RgbImage other
        && other.width == width
        && other.height == height
        && java.util.Arrays.equals(other.rgb, rgb);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * width + height) + java.util.Arrays.hashCode(rgb);
  }

  @Override
  public String toString() {
    return "RgbImage[" + width + "x" + height + "]";
  }
}

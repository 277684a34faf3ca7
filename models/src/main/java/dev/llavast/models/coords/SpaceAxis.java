package dev.llavast.models.coords;

import java.util.Locale;

/**
 * Space of one image or video request (spec §7.3): boxes are normalized by the original width and
 * height (the resize ignores the aspect ratio, so no letterbox correction). Immutable; any thread.
 *
 * @param width original width in pixels
 * @param height original height in pixels
 * @param bins bins per axis (100)
 */
public record SpaceAxis(int width, int height, int bins) {

  public SpaceAxis {
    if (width <= 0 || height <= 0 || bins < 2) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "space axis needs a positive size and bins >= 2, got %dx%d bins=%d",
              width,
              height,
              bins));
    }
  }

  /**
   * Pixel value of bin {@code k} on {@code axis} (WIDTH: {@code k/(bins-1) * W}; HEIGHT: {@code *
   * H}).
   */
  public double pixelsOfBin(Axis axis, int bin) {
    return CoordinateCodec.normalized(bin, bins) * extent(axis);
  }

  /** The bin nearest to a pixel value: {@code rint(px / extent * (bins-1))}, clamped. */
  public int binOfPixels(Axis axis, double pixels) {
    return CoordinateCodec.binOfNormalized(pixels / extent(axis), bins);
  }

  /**
   * The normalized value a prompt carries for a pixel value: {@code clip(round(px / extent, 3), 0,
   * 1)}.
   */
  public double normalizedOfPixels(Axis axis, double pixels) {
    return CoordinateCodec.roundInput(pixels / extent(axis));
  }

  /** The decoded value of bin {@code k} on {@code axis}. */
  public Coordinate coordinate(Axis axis, int bin) {
    return new Coordinate(axis, bin, CoordinateCodec.normalized(bin, bins), pixelsOfBin(axis, bin));
  }

  /** A box from four bins in answer order {@code x1, y1, x2, y2}. */
  public Box box(int x1, int y1, int x2, int y2) {
    return new Box(
        coordinate(Axis.WIDTH, x1),
        coordinate(Axis.HEIGHT, y1),
        coordinate(Axis.WIDTH, x2),
        coordinate(Axis.HEIGHT, y2));
  }

  private int extent(Axis axis) {
    return switch (axis) {
      case WIDTH -> width;
      case HEIGHT -> height;
      case TIME -> throw new IllegalArgumentException("TIME is not a spatial axis");
    };
  }
}

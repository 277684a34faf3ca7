package dev.llavast.models.coords;

/**
 * A box {@code [<WIDTH-a><HEIGHT-b><WIDTH-c><HEIGHT-d>]}: {@code x1, y1, x2, y2} of the original
 * image.
 */
public record Box(Coordinate x1, Coordinate y1, Coordinate x2, Coordinate y2) implements Piece {

  /** The four bins in answer order. */
  public int[] bins() {
    return new int[] {x1.bin(), y1.bin(), x2.bin(), y2.bin()};
  }

  /** The four normalized values {@code x1, y1, x2, y2}. */
  public double[] normalized() {
    return new double[] {x1.normalized(), y1.normalized(), x2.normalized(), y2.normalized()};
  }

  /** The four pixel values {@code x1, y1, x2, y2}. */
  public double[] pixels() {
    return new double[] {x1.pixels(), y1.pixels(), x2.pixels(), y2.pixels()};
  }
}

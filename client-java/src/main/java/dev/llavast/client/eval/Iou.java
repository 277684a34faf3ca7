package dev.llavast.client.eval;

/**
 * Intersection over union of intervals and boxes, as the LLaVA-ST evaluation defines them.
 * Stateless.
 */
public final class Iou {
  private Iou() {}

  /** IoU of {@code [a0, a1]} and {@code [b0, b1]}; 0 when the union is empty (two equal points). */
  public static double temporal(double a0, double a1, double b0, double b1) {
    double union = Math.max(a1, b1) - Math.min(a0, b0);
    if (!(union > 0)) {
      return 0;
    }
    return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0)) / union;
  }

  /** IoU of boxes {@code [x1, y1, x2, y2]} (no +1 pixel convention); 0 when the union is empty. */
  public static double box(double[] a, double[] b) {
    double inter =
        Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]))
            * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    double union = area(a) + area(b) - inter;
    return union > 0 ? inter / union : 0;
  }

  private static double area(double[] b) {
    return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  }
}

package dev.llavast.client;

/**
 * One coordinate of a box.
 *
 * @param px pixels in the original media (x for x1/x2, y for y1/y2)
 * @param normalized value in [0, 1] relative to the original width or height
 * @param bin bin index in [0, coordinate_bins), or -1 when not quantized
 */
public record BoxCoordinate(double px, double normalized, int bin) {}

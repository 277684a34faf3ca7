package dev.llavast.models.coords;

/**
 * One spatial coordinate: the generated bin, its normalized value {@code bin / (bins - 1)} and the
 * pixel value {@code normalized * W} (x) or {@code normalized * H} (y) in the original image or
 * frame.
 */
public record Coordinate(Axis axis, int bin, double normalized, double pixels) {}

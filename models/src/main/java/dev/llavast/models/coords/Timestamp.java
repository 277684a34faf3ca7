package dev.llavast.models.coords;

/**
 * A generated {@code <TEMP-k>}: normalized time {@code u = k / (bins - 1)} over the clip, the
 * original frame it stands for ({@code s + rint(u * (D - 1))}, which is sampled frame {@code k}
 * when 100 frames were sampled), and that frame's time in seconds from the clip start ({@code
 * (frame - s) / fps}).
 *
 * @param frame original frame index, or -1 when the media has no time axis (an image)
 * @param seconds seconds from the clip start, or NaN when the media has no time axis
 */
public record Timestamp(int bin, double normalized, int frame, double seconds) implements Piece {}

package dev.llavast.client;

/**
 * A point in time of the media, as the server decoded it from a {@code <TEMP-k>} token.
 *
 * @param seconds seconds from the start of the clip
 * @param mediaSeconds seconds from the start of the media (clip start + {@code seconds})
 * @param normalized time in [0, 1] relative to the clip
 * @param bin bin index in [0, coordinate_bins), or -1 when the value was not quantized
 */
public record Timestamp(double seconds, double mediaSeconds, double normalized, int bin)
    implements CoordinateValue {}

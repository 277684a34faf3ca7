package dev.llavast.client;

/**
 * A box at a point in time ({@code <TEMP-t>: [..]}).
 *
 * @param sampledFrame index of the sampled frame the time refers to
 */
public record TimedBox(Timestamp time, Box box, int sampledFrame) implements CoordinateValue {}

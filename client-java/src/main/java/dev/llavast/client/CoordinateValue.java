package dev.llavast.client;

/**
 * The value of one structured coordinate in generated text: a time, a span, a box or a timed box.
 */
public sealed interface CoordinateValue permits Timestamp, Span, Box, TimedBox {}

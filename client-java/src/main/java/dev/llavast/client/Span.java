package dev.llavast.client;

/** A time interval {@code {start, end}} of the clip. */
public record Span(Timestamp start, Timestamp end) implements CoordinateValue {}

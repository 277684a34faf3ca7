package dev.llavast.models.coords;

/** A span {@code {<TEMP-a><TEMP-b>}}. */
public record Span(Timestamp start, Timestamp end) implements Piece {}

package dev.llavast.models.coords;

/** A per-frame box {@code <TEMP-t>: [..]} of the STVG, SVG and ELC answers. */
public record TimedBox(Timestamp time, Box box) implements Piece {}

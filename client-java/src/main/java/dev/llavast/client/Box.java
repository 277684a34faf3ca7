package dev.llavast.client;

/** An axis-aligned box {@code [x1, y1, x2, y2]} in the original media. */
public record Box(BoxCoordinate x1, BoxCoordinate y1, BoxCoordinate x2, BoxCoordinate y2)
    implements CoordinateValue {}

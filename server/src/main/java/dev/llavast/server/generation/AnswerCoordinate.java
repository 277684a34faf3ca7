package dev.llavast.server.generation;

import dev.llavast.models.coords.Piece;

/**
 * One whole coordinate group of an answer (a timestamp, span, box or timed box, or a stray {@link
 * Piece.Bin} that belongs to no group), with where its literal text starts in the answer.
 *
 * @param group the decoded group: seconds and pixels, normalized values and bins
 * @param textOffsetBytes UTF-8 byte offset in the answer's text of the group's first character
 */
public record AnswerCoordinate(Piece group, int textOffsetBytes) {}

/**
 * Coordinate tokens (spec §7, §10): {@link dev.llavast.models.coords.CoordinateCodec} maps ids to
 * bins, normalized values, seconds ({@link dev.llavast.models.coords.TimeAxis}) and pixels ({@link
 * dev.llavast.models.coords.SpaceAxis}) and back; {@link
 * dev.llavast.models.coords.CoordinateStreamParser} turns a generated stream into text and whole
 * groups ({@link dev.llavast.models.coords.Timestamp}, {@link dev.llavast.models.coords.Span},
 * {@link dev.llavast.models.coords.Box}, {@link dev.llavast.models.coords.TimedBox}); {@link
 * dev.llavast.models.coords.TaskResult} reads a whole answer per task.
 */
package dev.llavast.models.coords;

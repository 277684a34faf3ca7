package dev.llavast.models.coords;

/**
 * The three families of generated coordinate tokens, in id order (spec §7.1): {@code <TEMP-k>} at
 * {@code V + k}, {@code <HEIGHT-k>} at {@code V + bins + k}, {@code <WIDTH-k>} at {@code V + 2*bins
 * + k}.
 */
public enum Axis {
  TIME,
  HEIGHT,
  WIDTH
}

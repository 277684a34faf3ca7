package dev.llavast.models.lape;

/**
 * A continuous coordinate value as a blend of two LAPE input rows (spec §4.4): {@code p = clip(v,
 * 0, 1)·(bins-1)}, {@code lo = floor(p)}, {@code hi = ceil(p)}, embedding {@code = E[lo]·(1 - (p -
 * lo)) + E[hi]·(p - lo)}. Immutable; any thread.
 *
 * @param lo lower bin
 * @param hi upper bin
 * @param weightHi weight of {@code hi} ({@code p - lo}); {@code lo} gets {@code 1 - weightHi}
 */
public record CoordinateLerp(int lo, int hi, float weightHi) {

  public static CoordinateLerp of(float value, int bins) {
    if (Float.isNaN(value)) {
      throw new IllegalArgumentException("coordinate value is NaN");
    }
    float v = Math.min(Math.max(value, 0f), 1f);
    float p = v * (bins - 1);
    int lo = (int) Math.floor(p);
    int hi = (int) Math.ceil(p);
    return new CoordinateLerp(lo, hi, p - lo);
  }
}

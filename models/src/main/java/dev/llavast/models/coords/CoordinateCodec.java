package dev.llavast.models.coords;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Coordinate tokens (spec §7): ids {@code V .. V + 3*bins - 1} ↔ (axis, bin) ↔ normalized {@code
 * bin/(bins-1)} ↔ seconds and pixels ({@link TimeAxis}, {@link SpaceAxis}), plus the streaming
 * answer parser.
 *
 * <p>{@code V} (the id of {@code <TEMP-000>}) must come from the checkpoint's tokenizer, never a
 * constant. Immutable; any thread.
 */
public final class CoordinateCodec {
  /** Bins per axis in the release. */
  public static final int DEFAULT_BINS = 100;

  private final int firstBinId;
  private final int bins;

  /**
   * @param firstBinId {@code V}: the id of {@code <TEMP-000>}
   * @param bins bins per axis ({@code num_coordinate_bins}, 100)
   */
  public CoordinateCodec(int firstBinId, int bins) {
    if (firstBinId < 0 || bins < 2) {
      throw new IllegalArgumentException(
          "need firstBinId >= 0 and bins >= 2, got " + firstBinId + ", " + bins);
    }
    this.firstBinId = firstBinId;
    this.bins = bins;
  }

  public int firstBinId() {
    return firstBinId;
  }

  public int bins() {
    return bins;
  }

  /** True for any of the {@code 3 * bins} coordinate ids. */
  public boolean isBin(int tokenId) {
    return tokenId >= firstBinId && tokenId < firstBinId + 3 * bins;
  }

  /** The axis of a coordinate id. */
  public Axis axisOf(int tokenId) {
    checkId(tokenId);
    return Axis.values()[(tokenId - firstBinId) / bins];
  }

  /** The bin (0 .. bins-1) of a coordinate id. */
  public int binOf(int tokenId) {
    checkId(tokenId);
    return (tokenId - firstBinId) % bins;
  }

  /** The id of {@code <AXIS-bin>}. */
  public int tokenId(Axis axis, int bin) {
    checkBin(bin, bins);
    return firstBinId + axis.ordinal() * bins + bin;
  }

  /** {@code bin / (bins - 1)}: 0 .. 1. */
  public double normalized(int bin) {
    return normalized(bin, bins);
  }

  /** The nearest bin to a normalized value: {@code rint(u * (bins - 1))}, clamped to the bins. */
  public int binOfNormalized(double u) {
    return binOfNormalized(u, bins);
  }

  public TimeAxis time(int clipStart, int clipEnd, double fps) {
    return new TimeAxis(clipStart, clipEnd, fps, bins);
  }

  public SpaceAxis space(int width, int height) {
    return new SpaceAxis(width, height, bins);
  }

  /**
   * A parser for one answer. {@code time} may be null for an image (timestamps then carry no
   * seconds). The parser is single-threaded: one generation stream feeds it.
   */
  public CoordinateStreamParser parser(@Nullable TimeAxis time, SpaceAxis space) {
    java.util.Objects.requireNonNull(space, "space");
    if (space.bins() != bins || (time != null && time.bins() != bins)) {
      throw new IllegalArgumentException("axes must use " + bins + " bins");
    }
    return new CoordinateStreamParser(this, time, space);
  }

  /**
   * The value an input coordinate carries in a prompt: rounded to 3 decimals like Python's {@code
   * round(x, 3)} (decimal rounding of the exact binary value, ties to even) and clipped to [0, 1].
   */
  public static double roundInput(double value) {
    if (Double.isNaN(value)) {
      throw new IllegalArgumentException("coordinate value is NaN");
    }
    double clipped = Math.max(0.0, Math.min(1.0, value));
    return new BigDecimal(clipped).setScale(3, RoundingMode.HALF_EVEN).doubleValue();
  }

  static double normalized(int bin, int bins) {
    checkBin(bin, bins);
    return bin / (double) (bins - 1);
  }

  static int binOfNormalized(double u, int bins) {
    if (Double.isNaN(u)) {
      throw new IllegalArgumentException("normalized value is NaN");
    }
    double k = Math.rint(u * (bins - 1));
    return (int) Math.max(0, Math.min(bins - 1, k));
  }

  static void checkBin(int bin, int bins) {
    if (bin < 0 || bin >= bins) {
      throw new IllegalArgumentException("bin " + bin + " is outside 0.." + (bins - 1));
    }
  }

  private void checkId(int tokenId) {
    if (!isBin(tokenId)) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "token id %d is not a coordinate id (%d..%d)",
              tokenId,
              firstBinId,
              firstBinId + 3 * bins - 1));
    }
  }
}

package dev.llavast.models.coords;

import java.util.Locale;

/**
 * Time of one video request (spec §7.2): the clip {@code [s, e]} (inclusive original frames, {@code
 * D = e-s+1}) and the video's fps. Immutable; any thread.
 *
 * @param clipStart {@code s}
 * @param clipEnd {@code e}, inclusive
 * @param fps frames per second of the original video, positive
 * @param bins bins per axis (100)
 */
public record TimeAxis(int clipStart, int clipEnd, double fps, int bins) {

  public TimeAxis {
    if (clipStart < 0 || clipEnd < clipStart || !(fps > 0) || !Double.isFinite(fps) || bins < 2) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "time axis needs 0 <= s <= e, fps > 0 and bins >= 2, got s=%d e=%d fps=%s bins=%d",
              clipStart,
              clipEnd,
              fps,
              bins));
    }
  }

  /** {@code D - 1}: the clip's length in frame intervals. */
  public int intervals() {
    return clipEnd - clipStart;
  }

  /**
   * Original frame of bin {@code k}: {@code s + rint(k / (bins-1) * (D-1))}, the same expression
   * (and order of evaluation) as frame sampling, so with as many sampled frames as bins, bin k is
   * exactly sampled frame k.
   */
  public int frameOfBin(int bin) {
    CoordinateCodec.checkBin(bin, bins);
    return clipStart + (int) Math.rint(bin / (double) (bins - 1) * intervals());
  }

  /** Seconds from the clip start of bin {@code k}: {@code (frameOfBin(k) - s) / fps}. */
  public double secondsOfBin(int bin) {
    return (frameOfBin(bin) - clipStart) / fps;
  }

  /** Seconds from the start of the video of bin {@code k}: {@code frameOfBin(k) / fps}. */
  public double absoluteSecondsOfBin(int bin) {
    return frameOfBin(bin) / fps;
  }

  /**
   * The normalized value a prompt carries for {@code seconds} from the clip start (spec §7.2
   * input): {@code clip(round(seconds * fps / (D - 1), 3), 0, 1)}; 0 for a one-frame clip.
   */
  public double normalizedOfSeconds(double seconds) {
    if (intervals() == 0) {
      return 0.0;
    }
    return CoordinateCodec.roundInput(seconds * fps / intervals());
  }

  /**
   * The bin whose frame is nearest to {@code seconds} from the clip start (ties: the smaller bin).
   * Inverts {@link #secondsOfBin} exactly whenever the clip has at least {@code bins} frames.
   */
  public int binOfSeconds(double seconds) {
    double target = clipStart + seconds * fps;
    int best = 0;
    double bestDist = Double.POSITIVE_INFINITY;
    for (int k = 0; k < bins; k++) {
      double d = Math.abs(frameOfBin(k) - target);
      if (d < bestDist) {
        bestDist = d;
        best = k;
      }
    }
    return best;
  }

  /** The full decoded value of bin {@code k}. */
  public Timestamp timestamp(int bin) {
    return new Timestamp(
        bin, CoordinateCodec.normalized(bin, bins), frameOfBin(bin), secondsOfBin(bin));
  }
}

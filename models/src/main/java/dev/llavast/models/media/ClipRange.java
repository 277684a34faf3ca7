package dev.llavast.models.media;

/**
 * The part of a video to sample from, either in seconds or as inclusive original frame indices (the
 * reference's {@code split = [s, e]}, spec §1.1).
 *
 * <p>Seconds convert to frames as {@code s = rint(start * fps)}, {@code e = rint(end * fps)}
 * (half-even), then {@code e} is clamped to the last frame {@code N - 1}. Immutable; any thread.
 *
 * @param unit whether {@code start}/{@code end} are seconds or frame indices
 * @param start first second or frame of the clip
 * @param end last second or frame of the clip (inclusive)
 */
public record ClipRange(Unit unit, double start, double end) {

  /** The unit of {@link #start} and {@link #end}. */
  public enum Unit {
    SECONDS,
    FRAMES
  }

  public ClipRange {
    if (unit == null) {
      throw new IllegalArgumentException("unit must not be null");
    }
    if (!Double.isFinite(start) || !Double.isFinite(end) || start < 0 || end < start) {
      throw new MediaException(
          MediaException.Reason.INVALID_CLIP,
          "clip ["
              + start
              + ", "
              + end
              + "] "
              + unit.name().toLowerCase(java.util.Locale.ROOT)
              + " must satisfy 0 <= start <= end");
    }
    if (unit == Unit.FRAMES
        && (start != Math.rint(start) || end != Math.rint(end) || end > Integer.MAX_VALUE)) {
      throw new MediaException(
          MediaException.Reason.INVALID_CLIP,
          "clip frame indices must be integers, got [" + start + ", " + end + "]");
    }
  }

  public static ClipRange seconds(double startSeconds, double endSeconds) {
    return new ClipRange(Unit.SECONDS, startSeconds, endSeconds);
  }

  public static ClipRange frames(int startFrame, int endFrameInclusive) {
    return new ClipRange(Unit.FRAMES, startFrame, endFrameInclusive);
  }

  /**
   * Inclusive original frame indices {@code [s, e]} of this clip in a video of {@code frameCount}
   * frames.
   *
   * @throws MediaException {@code INVALID_CLIP} when the clip starts after the last frame
   */
  public int[] resolve(int frameCount, double fps) {
    long s;
    long e;
    if (unit == Unit.FRAMES) {
      s = (long) start;
      e = (long) end;
    } else {
      s = (long) Math.rint(start * fps);
      e = (long) Math.rint(end * fps);
    }
    if (s > frameCount - 1) {
      throw new MediaException(
          MediaException.Reason.INVALID_CLIP,
          "clip "
              + this
              + " starts at frame "
              + s
              + " but the video's last frame is "
              + (frameCount - 1));
    }
    e = Math.min(e, frameCount - 1L);
    return new int[] {(int) s, (int) e};
  }

  /** The whole video: {@code [0, N-1]}. */
  static int[] whole(int frameCount) {
    return new int[] {0, frameCount - 1};
  }
}

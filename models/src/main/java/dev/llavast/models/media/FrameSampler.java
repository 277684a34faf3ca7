package dev.llavast.models.media;

/**
 * Which original frames a video request sees (spec §1.1): sampled frame {@code i} of {@code n} is
 * original frame {@code f_i = s + rint(i / (n - 1) * (D - 1))} with {@code D = e - s + 1}, rounding
 * half to even like Python's {@code round}. The expression is evaluated in the reference's order
 * ({@code i / (n-1)} first, then times {@code D - 1}) so that ties land exactly where Python puts
 * them. When {@code D < n} some frames repeat. Stateless; any thread.
 */
public final class FrameSampler {
  private FrameSampler() {}

  /**
   * The {@code numFrames} original frame indices sampled from the inclusive clip {@code [start,
   * end]}.
   *
   * @param start first frame of the clip, {@code >= 0}
   * @param end last frame of the clip (inclusive), {@code >= start}
   * @param numFrames how many frames to sample, {@code >= 1}; with 1 the clip's first frame is used
   * @return non-decreasing indices, each in {@code [start, end]}, {@code [numFrames]}
   */
  public static int[] sample(int start, int end, int numFrames) {
    if (start < 0 || end < start) {
      throw new IllegalArgumentException(
          "clip [" + start + ", " + end + "] must satisfy 0 <= start <= end");
    }
    if (numFrames < 1) {
      throw new IllegalArgumentException("numFrames must be >= 1, got " + numFrames);
    }
    int[] out = new int[numFrames];
    if (numFrames == 1) {
      out[0] = start;
      return out;
    }
    long span = (long) end - start; // D - 1
    double denom = numFrames - 1;
    for (int i = 0; i < numFrames; i++) {
      out[i] = (int) (start + (long) Math.rint(i / denom * span));
    }
    return out;
  }
}

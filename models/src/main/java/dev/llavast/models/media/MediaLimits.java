package dev.llavast.models.media;

import java.time.Duration;
import java.util.Objects;

/**
 * Bounds on what a client may send, so bad or hostile media fails fast instead of exhausting memory
 * or time.
 *
 * @param maxBytes largest encoded file accepted
 * @param maxWidth largest frame or image width, pixels
 * @param maxHeight largest frame or image height, pixels
 * @param maxDurationSeconds longest video accepted
 * @param maxFrameCount most frames a video may have (as reported by its container), and the most
 *     frames the decoder will ever decode from one file
 * @param maxDecodeTime wall-clock budget for decoding one video or image
 */
public record MediaLimits(
    long maxBytes,
    int maxWidth,
    int maxHeight,
    double maxDurationSeconds,
    int maxFrameCount,
    Duration maxDecodeTime) {

  public MediaLimits {
    Objects.requireNonNull(maxDecodeTime, "maxDecodeTime");
    if (maxBytes <= 0
        || maxWidth <= 0
        || maxHeight <= 0
        || maxFrameCount <= 0
        || !(maxDurationSeconds > 0)
        || maxDecodeTime.isNegative()
        || maxDecodeTime.isZero()) {
      throw new IllegalArgumentException(
          "every media limit must be positive: "
              + maxBytes
              + ", "
              + maxWidth
              + ", "
              + maxHeight
              + ", "
              + maxDurationSeconds
              + ", "
              + maxFrameCount
              + ", "
              + maxDecodeTime);
    }
  }

  /** 2 GiB, 7680x4320, 2 hours, 500 000 frames, 120 s of decoding. */
  public static MediaLimits defaults() {
    return new MediaLimits(2L << 30, 7680, 4320, 7200.0, 500_000, Duration.ofSeconds(120));
  }

  public MediaLimits withMaxDecodeTime(Duration d) {
    return new MediaLimits(maxBytes, maxWidth, maxHeight, maxDurationSeconds, maxFrameCount, d);
  }

  public MediaLimits withMaxDurationSeconds(double s) {
    return new MediaLimits(maxBytes, maxWidth, maxHeight, s, maxFrameCount, maxDecodeTime);
  }

  public MediaLimits withMaxSize(int w, int h) {
    return new MediaLimits(maxBytes, w, h, maxDurationSeconds, maxFrameCount, maxDecodeTime);
  }

  public MediaLimits withMaxBytes(long b) {
    return new MediaLimits(
        b, maxWidth, maxHeight, maxDurationSeconds, maxFrameCount, maxDecodeTime);
  }

  void checkDimensions(int width, int height) {
    if (width <= 0 || height <= 0 || width > maxWidth || height > maxHeight) {
      throw new MediaException(
          MediaException.Reason.BAD_DIMENSIONS,
          "frame size "
              + width
              + "x"
              + height
              + " is outside 1x1 .. "
              + maxWidth
              + "x"
              + maxHeight);
    }
  }

  void checkBytes(long size) {
    if (size == 0) {
      throw new MediaException(MediaException.Reason.EMPTY, "the media has 0 bytes");
    }
    if (size > maxBytes) {
      throw new MediaException(
          MediaException.Reason.TOO_MANY_BYTES,
          "the media has " + size + " bytes, more than the limit of " + maxBytes);
    }
  }
}

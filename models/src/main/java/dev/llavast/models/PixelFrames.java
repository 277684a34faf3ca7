package dev.llavast.models;

import dev.llavast.scheduler.PreparedMedia;
import java.util.Objects;

/**
 * Preprocessed frames ready for the vision tower: resized to {@code size x size}, scaled to [-1, 1]
 * ({@code (x/255 - 0.5)/0.5}), channel-first. A video has exactly {@code numFrames} frames; an
 * image has 1.
 *
 * <p>Immutable by contract (the array is not copied: the producer hands it over and never writes it
 * again); safe to pass from the decode pool to a worker thread.
 *
 * @param mediaKey cache key (content hash + preprocessing parameters)
 * @param video true for a video (STP applies), false for an image (729 tokens, no STP)
 * @param frames number of frames {@code T}
 * @param size side in pixels (384)
 * @param pixels {@code [T, 3, size, size]} float32, row-major
 */
public record PixelFrames(String mediaKey, boolean video, int frames, int size, float[] pixels)
    implements PreparedMedia {

  public PixelFrames {
    Objects.requireNonNull(mediaKey, "mediaKey");
    Objects.requireNonNull(pixels, "pixels");
    long expected = (long) frames * 3 * size * size;
    if (frames <= 0 || size <= 0 || pixels.length != expected) {
      throw new IllegalArgumentException(
          "pixels must hold ["
              + frames
              + ", 3, "
              + size
              + ", "
              + size
              + "] = "
              + expected
              + " floats, got "
              + pixels.length);
    }
  }

  @Override
  public long bytes() {
    return 4L * pixels.length;
  }
}

package dev.llavast.models.media;

import java.util.List;
import java.util.Objects;

/**
 * Decoded frames of one media item plus the metadata needed to map the model's answers back to
 * seconds and pixels.
 *
 * <p>Immutable by contract (the arrays are not copied); safe to pass between threads.
 *
 * @param kind video, image or pre-decoded frames
 * @param info original size, fps, duration, frame count
 * @param clipStart {@code s}: first original frame of the clip (0 for images)
 * @param clipEnd {@code e}: last original frame of the clip, inclusive
 * @param sampledIndices original frame index of every frame in {@code frames}, {@code [T]}
 * @param frames the {@code T} sampled frames in order, RGB; a frame sampled twice is the same
 *     object twice
 */
public record DecodedMedia(
    Kind kind,
    VideoInfo info,
    int clipStart,
    int clipEnd,
    int[] sampledIndices,
    List<RgbImage> frames) {

  /** Where the frames came from. */
  public enum Kind {
    VIDEO,
    IMAGE,
    FRAMES
  }

  public DecodedMedia {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(info, "info");
    Objects.requireNonNull(sampledIndices, "sampledIndices");
    frames = List.copyOf(frames);
    if (frames.size() != sampledIndices.length || frames.isEmpty()) {
      throw new IllegalArgumentException(
          "need one sampled index per frame and at least one frame, got "
              + sampledIndices.length
              + " indices for "
              + frames.size()
              + " frames");
    }
  }

  /** {@code T}: the number of frames handed to the model. */
  public int frameCount() {
    return frames.size();
  }

  /** True unless this is a single still image. */
  public boolean isVideo() {
    return kind != Kind.IMAGE;
  }
}

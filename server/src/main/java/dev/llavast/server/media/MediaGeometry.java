package dev.llavast.server.media;

import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.VideoInfo;
import dev.llavast.models.media.VideoSampling;

/**
 * Where a media item's features came from, in the original media's terms: what prompts and
 * coordinate decoding need to map normalized values to seconds and pixels.
 *
 * @param video false for a single image
 * @param widthPx original frame width (pixel coordinates are decoded against it)
 * @param heightPx original frame height
 * @param fps frame rate (0 for an image); seconds of frame {@code f} are {@code f / fps}
 * @param durationSeconds duration of the whole media (0 for an image)
 * @param frameCount {@code N}, frames in the whole media (1 for an image)
 * @param clipStartFrame {@code s}, first original frame of the clip (0 for an image)
 * @param clipEndFrame {@code e}, last original frame of the clip, inclusive
 * @param sampledIndices original index of every frame given to the encoder, {@code [T]}
 */
public record MediaGeometry(
    boolean video,
    int widthPx,
    int heightPx,
    double fps,
    double durationSeconds,
    int frameCount,
    int clipStartFrame,
    int clipEndFrame,
    int[] sampledIndices) {

  /** {@code D = e - s + 1}: frames in the clip. */
  public int clipFrameCount() {
    return clipEndFrame - clipStartFrame + 1;
  }

  public double clipStartSeconds() {
    return fps > 0 ? clipStartFrame / fps : 0.0;
  }

  public double clipEndSeconds() {
    return fps > 0 ? clipEndFrame / fps : 0.0;
  }

  static MediaGeometry of(DecodedMedia.Kind kind, VideoSampling s) {
    VideoInfo i = s.info();
    return new MediaGeometry(
        kind != DecodedMedia.Kind.IMAGE,
        i.width(),
        i.height(),
        i.fps(),
        i.durationSeconds(),
        i.frameCount(),
        s.clipStart(),
        s.clipEnd(),
        s.sampledIndices().clone());
  }
}

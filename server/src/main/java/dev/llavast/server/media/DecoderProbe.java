package dev.llavast.server.media;

import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaException;
import dev.llavast.models.media.VideoInfo;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.media.MediaStore.MediaMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The {@link MediaStore.MediaProbe} of the server: learns what an upload is with the real decoder.
 *
 * <ul>
 *   <li>video: the container's metadata ({@link MediaDecoder#probeVideo}); FFmpeg must have decoded
 *       a frame to know the size, so a file without one is refused;
 *   <li>image: decodes it ({@link MediaDecoder#decodeImage(Path)});
 *   <li>pre-decoded frames: decodes every frame of the length-prefixed file, one at a time (only
 *       the sizes are kept), and requires them all to be the same size.
 * </ul>
 *
 * <p>Every way the bytes can be bad ends in INVALID_ARGUMENT ({@link MediaErrors}); the decoder's
 * {@link dev.llavast.models.media.MediaLimits} bound its time and memory. Blocking and CPU-bound:
 * call it on a bounded CPU pool. Thread-safe and stateless; any thread.
 */
public final class DecoderProbe implements MediaStore.MediaProbe {
  private final MediaDecoder decoder;

  public DecoderProbe(MediaDecoder decoder) {
    this.decoder = Objects.requireNonNull(decoder, "decoder");
  }

  @Override
  public MediaMetadata probe(DecodedMedia.Kind kind, Path file, double framesFps) {
    try {
      return switch (kind) {
        case VIDEO -> {
          VideoInfo v = decoder.probeVideo(file);
          yield new MediaMetadata(v.durationSeconds(), v.frameCount(), v.fps(), v.width(), v.height());
        }
        case IMAGE -> {
          VideoInfo v = decoder.decodeImage(file).info();
          yield new MediaMetadata(0.0, 1, 0.0, v.width(), v.height());
        }
        case FRAMES -> probeFrames(file, framesFps);
      };
    } catch (MediaException e) {
      throw MediaErrors.toApi(e);
    }
  }

  private MediaMetadata probeFrames(Path file, double fps) {
    if (!(fps > 0) || !Double.isFinite(fps) || fps > 1000) {
      throw ApiException.invalid("header.frames_fps", "must be in (0, 1000], got " + fps);
    }
    List<byte[]> frames;
    try {
      frames = MediaStore.readFrames(file);
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("corrupt frames file")) {
        throw ApiException.of(Reason.MEDIA_INVALID, e.getMessage());
      }
      throw new UncheckedIOException("cannot read stored frames " + file, e);
    }
    if (frames.isEmpty()) {
      throw MediaErrors.toApi(new MediaException(MediaException.Reason.EMPTY, "the upload holds no frame"));
    }
    int maxFrames = decoder.limits().maxFrameCount();
    if (frames.size() > maxFrames) {
      throw MediaErrors.toApi(new MediaException(MediaException.Reason.TOO_LONG,
          frames.size() + " frames is over the limit of " + maxFrames));
    }
    int w = -1;
    int h = -1;
    for (int i = 0; i < frames.size(); i++) {
      DecodedMedia d;
      try {
        d = decoder.decodeImage(frames.get(i));
      } catch (MediaException e) {
        throw MediaErrors.toApi(new MediaException(e.reason(), "frame " + i + ": " + e.getMessage(), e));
      }
      VideoInfo v = d.info();
      if (i == 0) {
        w = v.width();
        h = v.height();
      } else if (v.width() != w || v.height() != h) {
        throw MediaErrors.toApi(new MediaException(MediaException.Reason.INVALID_FRAMES,
            "frame " + i + " is " + v.width() + "x" + v.height() + " but frame 0 is " + w + "x" + h));
      }
    }
    return new MediaMetadata(frames.size() / fps, frames.size(), fps, w, h);
  }
}

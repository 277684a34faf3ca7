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
          if (MediaDecoder.looksLikeImage(head(file))) {
            // FFmpeg's image demuxer would read a still as a "video" of thousands of frames
            throw mismatch(
                kind,
                "IMAGE",
                "the bytes are an image (JPEG, PNG, BMP or GIF); upload it as an image");
          }
          VideoInfo v = decoder.probeVideo(file);
          checkPlausible(v);
          yield new MediaMetadata(
              v.durationSeconds(), v.frameCount(), v.fps(), v.width(), v.height());
        }
        case IMAGE -> {
          byte[] head = head(file);
          if (!MediaDecoder.looksLikeImage(head)) {
            throw mismatch(
                kind,
                looksLikeVideo(head) ? "VIDEO" : "UNKNOWN",
                "the bytes are not a JPEG, PNG, BMP or GIF image"
                    + (looksLikeVideo(head)
                        ? "; they look like a video container: upload it as a video"
                        : ""));
          }
          VideoInfo v = decoder.decodeImage(file).info();
          yield new MediaMetadata(0.0, 1, 0.0, v.width(), v.height());
        }
        case FRAMES -> probeFrames(file, framesFps);
      };
    } catch (MediaException e) {
      throw MediaErrors.toApi(e);
    }
  }

  /** MEDIA_INVALID for a declared kind the content is not, with the kind found in the metadata. */
  private static ApiException mismatch(DecodedMedia.Kind declared, String detected, String why) {
    return ApiException.builder(Reason.MEDIA_INVALID, "declared " + declared + " but " + why)
        .metadata("media_error", "KIND_MISMATCH")
        .metadata("detected_kind", detected)
        .build();
  }

  /**
   * A container's frame count and duration must agree (within a factor of 1.5 of fps x duration,
   * and a few frames): a stream that claims far more frames than its time holds is refused before a
   * decode spends the limits on it.
   */
  static void checkPlausible(VideoInfo v) {
    double expected = v.fps() * v.durationSeconds();
    if (v.durationSeconds() > 0
        && (v.frameCount() > 1.5 * expected + 5 || v.frameCount() < expected / 1.5 - 5)) {
      throw ApiException.builder(
              Reason.MEDIA_INVALID,
              String.format(
                  java.util.Locale.ROOT,
                  "the video declares %d frames but %.3f s at %.3f fps hold about %.0f",
                  v.frameCount(),
                  v.durationSeconds(),
                  v.fps(),
                  expected))
          .metadata("media_error", "IMPLAUSIBLE")
          .build();
    }
  }

  /** The first bytes of a stored file (for magic numbers). */
  private static byte[] head(Path file) {
    try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
      return in.readNBytes(16);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the stored media", e);
    }
  }

  /** MP4/MOV ({@code ftyp} at 4), Matroska/WebM, AVI, MPEG-TS or MPEG-PS. */
  private static boolean looksLikeVideo(byte[] h) {
    boolean ftyp = h.length >= 8 && h[4] == 'f' && h[5] == 't' && h[6] == 'y' && h[7] == 'p';
    boolean ebml =
        h.length >= 4
            && (h[0] & 0xff) == 0x1A
            && (h[1] & 0xff) == 0x45
            && (h[2] & 0xff) == 0xDF
            && (h[3] & 0xff) == 0xA3;
    boolean riff =
        h.length >= 12
            && h[0] == 'R'
            && h[1] == 'I'
            && h[2] == 'F'
            && h[3] == 'F'
            && h[8] == 'A'
            && h[9] == 'V'
            && h[10] == 'I';
    boolean ts = h.length >= 1 && (h[0] & 0xff) == 0x47;
    boolean ps =
        h.length >= 4 && h[0] == 0 && h[1] == 0 && (h[2] & 0xff) == 1 && (h[3] & 0xff) == 0xBA;
    return ftyp || ebml || riff || ts || ps;
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
      throw MediaErrors.toApi(
          new MediaException(MediaException.Reason.EMPTY, "the upload holds no frame"));
    }
    int maxFrames = decoder.limits().maxFrameCount();
    if (frames.size() > maxFrames) {
      throw MediaErrors.toApi(
          new MediaException(
              MediaException.Reason.TOO_LONG,
              frames.size() + " frames is over the limit of " + maxFrames));
    }
    int w = -1;
    int h = -1;
    for (int i = 0; i < frames.size(); i++) {
      DecodedMedia d;
      try {
        d = decoder.decodeImage(frames.get(i));
      } catch (MediaException e) {
        throw MediaErrors.toApi(
            new MediaException(e.reason(), "frame " + i + ": " + e.getMessage(), e));
      }
      VideoInfo v = d.info();
      if (i == 0) {
        w = v.width();
        h = v.height();
      } else if (v.width() != w || v.height() != h) {
        throw MediaErrors.toApi(
            new MediaException(
                MediaException.Reason.INVALID_FRAMES,
                "frame "
                    + i
                    + " is "
                    + v.width()
                    + "x"
                    + v.height()
                    + " but frame 0 is "
                    + w
                    + "x"
                    + h));
      }
    }
    return new MediaMetadata(frames.size() / fps, frames.size(), fps, w, h);
  }
}

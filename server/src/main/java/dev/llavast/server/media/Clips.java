package dev.llavast.server.media;

import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.MediaException;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.media.MediaStore.StoredMedia;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The one rule for a request's clip, used by every request that names one (Generate,
 * GenerateStream, CreateSession and, through its session, Ask; the {@code generate} command):
 * absent or both ends 0 is the whole media; {@code end == 0} means "to the end"; both ends are
 * finite and {@code >= 0}; a non-zero end is after the start. Stateless; any thread.
 */
public final class Clips {
  private Clips() {}

  /**
   * The clip in seconds, or null for the whole media.
   *
   * @param field the request field, e.g. {@code clip}; violations name {@code field.start_seconds}
   *     and {@code field.end_seconds}
   * @throws ApiException INVALID_REQUEST naming each bad end
   */
  public static @Nullable ClipRange of(double startSeconds, double endSeconds, String field) {
    List<FieldViolation> v = new ArrayList<>();
    check(startSeconds, endSeconds, field, v);
    ApiException.throwIfAny(v);
    if (startSeconds == 0 && endSeconds == 0) {
      return null;
    }
    return ClipRange.seconds(startSeconds, endSeconds == 0 ? Double.MAX_VALUE : endSeconds);
  }

  /** Adds a violation for each bad end of the clip (for validators that collect every problem). */
  public static void check(
      double startSeconds, double endSeconds, String field, List<FieldViolation> v) {
    if (!Double.isFinite(startSeconds) || startSeconds < 0) {
      v.add(
          new FieldViolation(
              field + ".start_seconds", "must be a finite number >= 0, got " + startSeconds));
    }
    if (!Double.isFinite(endSeconds) || endSeconds < 0) {
      v.add(
          new FieldViolation(
              field + ".end_seconds",
              "must be a finite number >= 0 (0 = to the end), got " + endSeconds));
    } else if (endSeconds != 0 && endSeconds <= startSeconds) {
      v.add(
          new FieldViolation(
              field + ".end_seconds",
              "must be greater than start_seconds " + startSeconds + ", got " + endSeconds));
    }
  }

  /**
   * Checks a clip against the media's probed metadata, before any decoding: a clip that starts
   * after the last frame is refused here (the decoder checks again against the frames it finds).
   *
   * @throws ApiException INVALID_REQUEST on the {@code clip} field
   */
  public static void checkAgainst(StoredMedia media, @Nullable ClipRange clip) {
    if (clip == null || media.kind() == DecodedMedia.Kind.IMAGE) {
      return;
    }
    MediaStore.MediaMetadata m = media.meta();
    if (m.frameCount() <= 0 || !(m.fps() > 0)) {
      return; // nothing to check against; the decoder decides
    }
    try {
      clip.resolve((int) Math.min(Integer.MAX_VALUE, m.frameCount()), m.fps());
    } catch (MediaException e) {
      throw MediaErrors.toApi(
          new MediaException(
              e.reason(),
              "the media is "
                  + m.durationSeconds()
                  + " s long ("
                  + m.frameCount()
                  + " frames at "
                  + m.fps()
                  + " fps): "
                  + e.getMessage(),
              e));
    }
  }
}

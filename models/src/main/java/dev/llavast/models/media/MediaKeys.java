package dev.llavast.models.media;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Media cache keys: SHA-256 over the content bytes plus every preprocessing parameter that changes
 * the features (kind, frames sampled, resolution, clip, packer version), as lowercase hex. Two
 * requests share cached features exactly when their keys are equal. Stateless; any thread.
 */
public final class MediaKeys {
  /** Bump when decoding or preprocessing changes its output. */
  public static final String PREPROCESSING_VERSION = "llavast-media-1";

  private MediaKeys() {}

  /**
   * The parameters that, with the content, determine the vision tower's input.
   *
   * @param kind video, image or frames
   * @param numFrames frames sampled (1 for images)
   * @param size resize side (384)
   * @param clip the clip, or null for the whole media
   * @param packerVersion identifies the checkpoint/packer whose features are cached under the key
   */
  public record Params(
      DecodedMedia.Kind kind,
      int numFrames,
      int size,
      @Nullable ClipRange clip,
      String packerVersion) {
    String canonical() {
      String c =
          clip == null
              ? "all"
              : clip.unit().name()
                  + ":"
                  + Double.toString(clip.start())
                  + ":"
                  + Double.toString(clip.end());
      return String.format(
          Locale.ROOT,
          "%s|kind=%s|frames=%d|size=%d|clip=%s|packer=%s",
          PREPROCESSING_VERSION,
          kind,
          numFrames,
          size,
          c,
          packerVersion);
    }
  }

  /** Key of content held in memory. */
  public static String of(byte[] content, Params params) {
    MessageDigest md = sha256();
    md.update(content);
    return finish(md, params);
  }

  /** Key of a file, streamed (never fully loaded). */
  public static String of(Path file, Params params) {
    MessageDigest md = sha256();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    return finish(md, params);
  }

  /** Key of pre-decoded frames: their sizes and pixels, in order, plus fps. */
  public static String ofFrames(List<RgbImage> frames, double fps, Params params) {
    MessageDigest md = sha256();
    md.update(
        ("fps=" + Double.toString(fps) + "|n=" + frames.size()).getBytes(StandardCharsets.UTF_8));
    for (RgbImage f : frames) {
      md.update((f.width() + "x" + f.height() + "|").getBytes(StandardCharsets.UTF_8));
      md.update(f.rgb());
    }
    return finish(md, params);
  }

  private static String finish(MessageDigest md, Params params) {
    md.update((byte) 0);
    md.update(params.canonical().getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}

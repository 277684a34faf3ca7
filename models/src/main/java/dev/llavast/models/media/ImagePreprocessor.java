package dev.llavast.models.media;

import dev.llavast.models.PixelFrames;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;

/**
 * Turns decoded RGB frames into the vision tower's input (spec §1.2): resize to {@code size x size}
 * exactly like Pillow's {@code BICUBIC} (aspect ratio ignored), then {@code (x/255 - 0.5)/0.5} per
 * channel, channel-first.
 *
 * <p>Frames are processed in parallel on an executor the caller supplies (a bounded CPU pool, never
 * a device thread); a frame sampled several times is resized once. Thread-safe and stateless: any
 * thread may call any method. The methods block until their work is done.
 */
public final class ImagePreprocessor {
  /** SigLIP's input side. */
  public static final int DEFAULT_SIZE = 384;

  private static final float[] LUT = new float[256];

  static {
    for (int v = 0; v < 256; v++) {
      float scaled =
          (float) (v * (1.0 / 255.0)); // rescale in float64, stored as float32 (spec §1.2 step 3)
      LUT[v] = (scaled - 0.5f) / 0.5f;
    }
  }

  private final int size;
  private final int maxInFlight;

  /** 384 px, at most 8 full-size frames waiting for the pool while a video streams in. */
  public ImagePreprocessor() {
    this(DEFAULT_SIZE, 8);
  }

  /**
   * @param size output side in pixels
   * @param maxInFlight while streaming a video, the most decoded full-size frames queued for
   *     resizing; beyond that the decoding thread resizes the frame itself, so memory stays bounded
   *     and a pool shared with the decoders cannot deadlock
   */
  public ImagePreprocessor(int size, int maxInFlight) {
    if (size <= 0 || maxInFlight <= 0) {
      throw new IllegalArgumentException(
          "size and maxInFlight must be positive, got " + size + ", " + maxInFlight);
    }
    this.size = size;
    this.maxInFlight = maxInFlight;
  }

  public int size() {
    return size;
  }

  /** Pillow-{@code BICUBIC} resize to {@code size x size}. */
  public RgbImage resize(RgbImage image) {
    return PillowBicubic.resize(image, size, size);
  }

  /**
   * Writes {@code (x/255 - 0.5)/0.5} of a {@code size x size} image into {@code dst} as {@code [3,
   * size, size]} starting at {@code offset}.
   */
  public void normalizeInto(RgbImage resized, float[] dst, int offset) {
    if (resized.width() != size || resized.height() != size) {
      throw new IllegalArgumentException(
          "expected a " + size + "x" + size + " image, got " + resized);
    }
    byte[] px = resized.rgb();
    int plane = size * size;
    for (int i = 0; i < plane; i++) {
      dst[offset + i] = LUT[px[3 * i] & 0xff];
      dst[offset + plane + i] = LUT[px[3 * i + 1] & 0xff];
      dst[offset + 2 * plane + i] = LUT[px[3 * i + 2] & 0xff];
    }
  }

  /**
   * Preprocesses decoded media: {@code [T, 3, size, size]} with {@code T = media.frameCount()}.
   *
   * @param executor runs the per-frame work; the calling thread waits
   */
  public PixelFrames preprocess(DecodedMedia media, String mediaKey, Executor executor) {
    Objects.requireNonNull(executor, "executor");
    List<RgbImage> frames = media.frames();
    int t = frames.size();
    int per = 3 * size * size;
    float[] pixels = new float[t * per]; // [T, 3, size, size]
    Map<RgbImage, Integer> firstSlot = new java.util.IdentityHashMap<>();
    List<CompletableFuture<Void>> jobs = new ArrayList<>();
    for (int i = 0; i < t; i++) {
      RgbImage f = frames.get(i);
      if (firstSlot.putIfAbsent(f, i) == null) {
        int slot = i;
        jobs.add(
            CompletableFuture.runAsync(
                () -> normalizeInto(resize(f), pixels, slot * per), executor));
      }
    }
    joinAll(jobs);
    for (int i = 0; i < t; i++) {
      int src = Objects.requireNonNull(firstSlot.get(frames.get(i)), "every frame has a slot");
      if (src != i) {
        System.arraycopy(pixels, src * per, pixels, i * per, per);
      }
    }
    return new PixelFrames(mediaKey, media.isVideo(), t, size, pixels);
  }

  /** {@link #preprocess} plus the media's sampling metadata (for images and pre-decoded frames). */
  public Prepared prepare(DecodedMedia media, String mediaKey, Executor executor) {
    return Prepared.of(preprocess(media, mediaKey, executor), media);
  }

  /**
   * Decodes and preprocesses a video in one stream: each sampled frame is resized on {@code
   * executor} as soon as it is decoded, so at most {@code maxInFlight} full-size frames are held at
   * once. Runs the decoding on the calling thread.
   */
  public Prepared prepareVideo(
      MediaDecoder decoder,
      Path file,
      int numFrames,
      @Nullable ClipRange clip,
      String mediaKey,
      Executor executor) {
    Objects.requireNonNull(executor, "executor");
    Map<Integer, CompletableFuture<RgbImage>> resized = new ConcurrentHashMap<>();
    Semaphore permits = new Semaphore(maxInFlight);
    VideoSampling s;
    try {
      s =
          decoder.streamVideo(
              file,
              numFrames,
              clip,
              (src, img) -> {
                if (permits.tryAcquire()) {
                  CompletableFuture<RgbImage> job;
                  try {
                    job = CompletableFuture.supplyAsync(() -> resize(img), executor);
                  } catch (RuntimeException e) {
                    permits.release();
                    throw e;
                  }
                  resized.put(src, job.whenComplete((r, e) -> permits.release()));
                } else {
                  resized.put(src, CompletableFuture.completedFuture(resize(img)));
                }
              });
    } catch (RuntimeException e) {
      resized.values().forEach(f -> f.cancel(false));
      throw e;
    }
    int[] idx = s.sampledIndices();
    int per = 3 * size * size;
    float[] pixels = new float[idx.length * per]; // [T, 3, size, size]
    joinAll(new ArrayList<>(resized.values()));
    for (int i = 0; i < idx.length; i++) {
      normalizeInto(
          Objects.requireNonNull(resized.get(idx[i]), "resized above").join(), pixels, i * per);
    }
    PixelFrames pf = new PixelFrames(mediaKey, true, idx.length, size, pixels);
    return new Prepared(pf, DecodedMedia.Kind.VIDEO, s);
  }

  /**
   * Preprocessed pixels plus the sampling metadata that maps answers back to seconds and pixels.
   *
   * @param pixels the vision tower's input
   * @param kind video, image or pre-decoded frames
   * @param sampling original size, fps, clip and sampled frame indices
   */
  public record Prepared(PixelFrames pixels, DecodedMedia.Kind kind, VideoSampling sampling) {
    /** For media that was decoded first and preprocessed afterwards. */
    public static Prepared of(PixelFrames pixels, DecodedMedia media) {
      return new Prepared(
          pixels,
          media.kind(),
          new VideoSampling(
              media.info(), media.clipStart(), media.clipEnd(), media.sampledIndices()));
    }
  }

  private static void joinAll(List<? extends CompletableFuture<?>> jobs) {
    try {
      CompletableFuture.allOf(jobs.toArray(new CompletableFuture<?>[0])).join();
    } catch (CompletionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }
}

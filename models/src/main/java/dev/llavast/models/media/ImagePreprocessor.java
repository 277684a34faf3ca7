package dev.llavast.models.media;

import dev.llavast.models.PixelFrames;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.function.IntFunction;
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
      int src = present(firstSlot, frames.get(i));
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
    return prepareVideo(decoder, file, numFrames, clip, mediaKey, executor, new StageTimes());
  }

  /**
   * {@link #prepareVideo(MediaDecoder, Path, int, ClipRange, String, Executor)}, adding the time of
   * each stage to {@code times}.
   */
  public Prepared prepareVideo(
      MediaDecoder decoder,
      Path file,
      int numFrames,
      @Nullable ClipRange clip,
      String mediaKey,
      Executor executor,
      StageTimes times) {
    Objects.requireNonNull(executor, "executor");
    Objects.requireNonNull(times, "times");
    Map<Integer, CompletableFuture<RgbImage>> resized = new ConcurrentHashMap<>();
    Semaphore permits = new Semaphore(maxInFlight);
    // Full-size frames whose resize is done, for the decoder to convert the next ones into: at most
    // maxInFlight + 1 full-size arrays exist at once, and none is allocated per frame.
    ArrayBlockingQueue<byte[]> free = new ArrayBlockingQueue<>(maxInFlight + 1);
    IntFunction<byte[]> buffers =
        n -> {
          byte[] b = free.poll();
          return b != null && b.length == n ? b : new byte[n];
        };
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
                    job =
                        CompletableFuture.supplyAsync(
                            () -> resizeAndRecycle(img, times, free), executor);
                  } catch (RuntimeException e) {
                    permits.release();
                    throw e;
                  }
                  resized.put(src, job.whenComplete((r, e) -> permits.release()));
                } else {
                  resized.put(
                      src, CompletableFuture.completedFuture(resizeAndRecycle(img, times, free)));
                }
              },
              times,
              buffers);
    } catch (RuntimeException e) {
      resized.values().forEach(f -> f.cancel(false));
      throw e;
    }
    int[] idx = s.sampledIndices();
    joinAll(new ArrayList<>(resized.values()));
    PixelFrames pf =
        new PixelFrames(
            mediaKey,
            true,
            idx.length,
            size,
            normalizeAll(idx, i -> present(resized, i).join(), executor));
    return new Prepared(pf, DecodedMedia.Kind.VIDEO, s);
  }

  /**
   * A frames upload: {@code encoded} PNG/JPEG/BMP/GIF frames at {@code fps}, sampled like a video
   * ({@code numFrames} of {@code clip}, null: all). Only the sampled frames are decoded, each
   * decoded and resized in one task on {@code executor}, so at most one full-size frame per pool
   * thread is held. Every sampled frame must have the size of the first sampled one.
   *
   * @throws MediaException for a frame that does not decode (its index in the message), frames of
   *     different sizes, or a sequence outside the limits
   */
  public Prepared prepareFrames(
      MediaDecoder decoder,
      List<byte[]> encoded,
      double fps,
      int numFrames,
      @Nullable ClipRange clip,
      String mediaKey,
      Executor executor,
      StageTimes times) {
    Objects.requireNonNull(executor, "executor");
    Objects.requireNonNull(times, "times");
    int[] plan = decoder.planFrames(encoded.size(), fps, numFrames, clip);
    int[] idx = java.util.Arrays.copyOfRange(plan, 2, plan.length);
    int[] distinct = java.util.Arrays.stream(idx).distinct().toArray();
    Map<Integer, CompletableFuture<Sized>> jobs = new java.util.HashMap<>();
    for (int i : distinct) {
      jobs.put(
          i,
          CompletableFuture.supplyAsync(
              () -> {
                long t0 = System.nanoTime();
                long c0 = StageTimes.threadCpu();
                RgbImage full;
                try {
                  full = decoder.decodeImage(encoded.get(i)).frames().get(0);
                } catch (MediaException e) {
                  throw new MediaException(e.reason(), "frame " + i + ": " + e.getMessage(), e);
                }
                times.decoded(System.nanoTime() - t0, StageTimes.threadCpu() - c0);
                return new Sized(full.width(), full.height(), resize(full, times));
              },
              executor));
    }
    joinAll(new ArrayList<>(jobs.values()));
    Sized first = present(jobs, idx[0]).join();
    for (int i : distinct) {
      Sized f = present(jobs, i).join();
      MediaDecoder.checkSameSize(i, f.width(), f.height(), idx[0], first.width(), first.height());
    }
    int n = encoded.size();
    VideoInfo info = new VideoInfo(first.width(), first.height(), fps, n / fps, n);
    float[] pixels = normalizeAll(idx, i -> present(jobs, i).join().resized(), executor);
    return new Prepared(
        new PixelFrames(mediaKey, true, idx.length, size, pixels),
        DecodedMedia.Kind.FRAMES,
        new VideoSampling(info, plan[0], plan[1], idx));
  }

  /** A decoded frame's original size and its resized picture. */
  private record Sized(int width, int height, RgbImage resized) {}

  /** Resizes {@code image}, then offers its array for reuse unless the result shares it. */
  private RgbImage resizeAndRecycle(RgbImage image, StageTimes times, Queue<byte[]> free) {
    RgbImage out = resize(image, times);
    if (out.rgb() != image.rgb()) {
      free.offer(image.rgb());
    }
    return out;
  }

  private RgbImage resize(RgbImage image, StageTimes times) {
    long t0 = System.nanoTime();
    long c0 = StageTimes.threadCpu();
    RgbImage out = resize(image);
    times.resized(System.nanoTime() - t0, StageTimes.threadCpu() - c0);
    return out;
  }

  /**
   * {@code [T, 3, size, size]} pixels of the resized frames {@code frame(idx[t])}, normalised in
   * parallel on {@code executor}; a frame sampled several times is normalised once and copied.
   */
  private float[] normalizeAll(
      int[] idx, java.util.function.IntFunction<RgbImage> frame, Executor executor) {
    int per = 3 * size * size;
    float[] pixels = new float[idx.length * per]; // [T, 3, size, size]
    List<CompletableFuture<Void>> jobs = new ArrayList<>();
    int t = 0;
    while (t < idx.length) {
      int start = t;
      while (t < idx.length && idx[t] == idx[start]) {
        t++;
      }
      int end = t; // slots [start, end) show the same source frame
      jobs.add(
          CompletableFuture.runAsync(
              () -> {
                normalizeInto(frame.apply(idx[start]), pixels, start * per);
                for (int k = start + 1; k < end; k++) {
                  System.arraycopy(pixels, start * per, pixels, k * per, per);
                }
              },
              executor));
    }
    joinAll(jobs);
    return pixels;
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

  /** {@code m.get(k)} for a key this class put there itself. */
  private static <K, V> V present(Map<K, V> m, K k) {
    V v = m.get(k);
    if (v == null) {
      throw new IllegalStateException("no entry for " + k);
    }
    return v;
  }
}

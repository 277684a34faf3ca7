package dev.llavast.models.media;

import dev.llavast.models.media.MediaException.Reason;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.jspecify.annotations.Nullable;

/**
 * Decodes videos (FFmpeg through JavaCV), images (ImageIO: JPEG, PNG, BMP, GIF; no EXIF rotation,
 * like {@code PIL.Image.open(...).convert("RGB")}) and pre-decoded frames into RGB frames, sampling
 * videos per spec §1.1 ({@link FrameSampler}).
 *
 * <p>Videos are decoded sequentially once: every frame up to the last sampled one goes through the
 * decoder (needed for inter-coded streams, and all FFmpeg itself would do), only the sampled ones
 * are converted to RGB ({@link RgbConverter}) and handed on. The decoder may use several FFmpeg
 * threads per video ({@code decodeThreads}). Decoding is bounded by {@link MediaLimits} (bytes,
 * size, duration, frames decoded, wall-clock time) and every way a file can be bad ends in a {@link
 * MediaException}.
 *
 * <p>Thread-safe and stateless apart from its limits: any number of threads may decode at once,
 * each call uses its own native decoder. Calls are CPU-bound and blocking; run them on a bounded
 * CPU pool, never on a device thread or a gRPC event loop.
 */
public final class MediaDecoder {
  private static final Set<String> IMAGE_FORMATS = Set.of("jpeg", "png", "bmp", "gif");

  static {
    // FFmpeg prints every demuxer complaint about hostile input to stderr; keep only real errors.
    avutil.av_log_set_level(avutil.AV_LOG_ERROR);
  }

  /** The most FFmpeg decoding threads one video may use. */
  public static final int MAX_DECODE_THREADS = 16;

  private final MediaLimits limits;
  private final int decodeThreads;

  /** A decoder with {@link #defaultDecodeThreads()} FFmpeg threads per video. */
  public MediaDecoder(MediaLimits limits) {
    this(limits, defaultDecodeThreads());
  }

  /**
   * @param decodeThreads FFmpeg decoding threads per video, 1 to {@link #MAX_DECODE_THREADS} (1:
   *     FFmpeg's single-threaded decoder); several videos decode at once on the decode pool, so
   *     this bounds threads per video, not in all
   */
  public MediaDecoder(MediaLimits limits, int decodeThreads) {
    this.limits = Objects.requireNonNull(limits, "limits");
    if (decodeThreads < 1 || decodeThreads > MAX_DECODE_THREADS) {
      throw new IllegalArgumentException(
          "decodeThreads must be in [1, " + MAX_DECODE_THREADS + "], got " + decodeThreads);
    }
    this.decodeThreads = decodeThreads;
  }

  /**
   * Half the machine's cores, 1 to 8: the other half resizes the sampled frames while the stream
   * decodes (measured by {@code MediaDecodeBenchmark}).
   */
  public static int defaultDecodeThreads() {
    return Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors() / 2));
  }

  public int decodeThreads() {
    return decodeThreads;
  }

  public MediaLimits limits() {
    return limits;
  }

  /**
   * Decodes content of unknown kind: JPEG, PNG, BMP and GIF bytes (by their magic numbers) as an
   * image, anything else as a video sampled to {@code numFrames} over {@code clip} (null: the whole
   * video).
   */
  public DecodedMedia decode(byte[] content, int numFrames, @Nullable ClipRange clip) {
    if (looksLikeImage(content)) {
      return decodeImage(content);
    }
    return decodeVideo(content, numFrames, clip);
  }

  // ---------------------------------------------------------------- videos

  /** The container's metadata, without decoding any frame. */
  public VideoInfo probeVideo(Path file) {
    checkFile(file);
    try (FFmpegFrameGrabber g = open(file)) {
      return probe(g);
    } catch (org.bytedeco.javacv.FrameGrabber.Exception e) {
      throw new MediaException(Reason.UNREADABLE, "cannot close the video decoder", e);
    }
  }

  /**
   * Decodes {@code numFrames} frames sampled from {@code clip} (or the whole video when {@code
   * clip} is null). Holds every distinct sampled frame at full size ({@code W * H * 3} bytes each);
   * a server should prefer {@link ImagePreprocessor#prepareVideo}, which resizes frames as they
   * arrive.
   *
   * @throws MediaException when the file is not a usable video
   */
  public DecodedMedia decodeVideo(Path file, int numFrames, @Nullable ClipRange clip) {
    Map<Integer, RgbImage> kept = new HashMap<>();
    VideoSampling s = streamVideo(file, numFrames, clip, kept::put);
    List<RgbImage> frames = new ArrayList<>(numFrames);
    for (int idx : s.sampledIndices()) {
      frames.add(kept.get(idx));
    }
    return new DecodedMedia(
        DecodedMedia.Kind.VIDEO, s.info(), s.clipStart(), s.clipEnd(), s.sampledIndices(), frames);
  }

  /**
   * Like {@link #decodeVideo(Path, int, ClipRange)} for content in memory (written to a temporary
   * file).
   */
  public DecodedMedia decodeVideo(byte[] content, int numFrames, @Nullable ClipRange clip) {
    limits.checkBytes(content.length);
    Path tmp = writeTemp(content);
    try {
      return decodeVideo(tmp, numFrames, clip);
    } finally {
      deleteQuietly(tmp);
    }
  }

  /**
   * Decodes the sampled frames of a video and hands each distinct one to {@code consumer} as soon
   * as it is decoded (see {@link SampledFrameConsumer} for the contract), so full-size frames need
   * not all be held. An interrupted calling thread stops decoding with a {@link
   * java.util.concurrent.CancellationException}.
   *
   * @param numFrames frames to sample, {@code >= 1}
   * @param clip the clip to sample from, or null for the whole video
   * @return metadata and the original index of every sampled frame
   */
  public VideoSampling streamVideo(
      Path file, int numFrames, @Nullable ClipRange clip, SampledFrameConsumer consumer) {
    return streamVideo(file, numFrames, clip, consumer, new StageTimes());
  }

  /**
   * {@link #streamVideo(Path, int, ClipRange, SampledFrameConsumer)}, adding the time of each stage
   * to {@code times} (decode: every frame; to RGB: the sampled ones).
   */
  public VideoSampling streamVideo(
      Path file,
      int numFrames,
      @Nullable ClipRange clip,
      SampledFrameConsumer consumer,
      StageTimes times) {
    return streamVideo(file, numFrames, clip, consumer, times, byte[]::new);
  }

  /**
   * The same, with the RGB frames' arrays taken from {@code buffers} (which may hand back arrays
   * whose frames the consumer is done with).
   */
  VideoSampling streamVideo(
      Path file,
      int numFrames,
      @Nullable ClipRange clip,
      SampledFrameConsumer consumer,
      StageTimes times,
      java.util.function.IntFunction<byte[]> buffers) {
    Objects.requireNonNull(times, "times");
    Objects.requireNonNull(buffers, "buffers");
    if (numFrames < 1) {
      throw new IllegalArgumentException("numFrames must be >= 1, got " + numFrames);
    }
    checkFile(file);
    long deadline = System.nanoTime() + limits.maxDecodeTime().toNanos();
    VideoInfo info;
    int[] se;
    int[] indices;
    Set<Integer> delivered = new java.util.HashSet<>();
    int decodable;
    try (FFmpegFrameGrabber g = open(file)) {
      info = probe(g);
      se =
          clip == null
              ? ClipRange.whole(info.frameCount())
              : clip.resolve(info.frameCount(), info.fps());
      indices = FrameSampler.sample(se[0], se[1], numFrames);
      decodable = decodeSelected(g, file, indices, delivered, consumer, deadline, times, buffers);
    } catch (org.bytedeco.javacv.FrameGrabber.Exception e) {
      throw new MediaException(Reason.UNREADABLE, "cannot close the video decoder", e);
    }
    if (decodable > indices[indices.length - 1]) {
      return new VideoSampling(info, se[0], se[1], indices);
    }
    // The stream ended before the frames the container promised: sample again over what is really
    // there.
    if (decodable == 0) {
      throw new MediaException(
          Reason.NO_FRAMES,
          "no frame of the video could be decoded"
              + " (the container declares "
              + info.frameCount()
              + ")");
    }
    info =
        new VideoInfo(info.width(), info.height(), info.fps(), info.durationSeconds(), decodable);
    if (clip != null && se[0] >= decodable) {
      throw new MediaException(
          Reason.NO_FRAMES,
          "the clip starts at frame "
              + se[0]
              + " but only "
              + decodable
              + " frames of the video can be decoded");
    }
    se = clip == null ? ClipRange.whole(decodable) : clip.resolve(decodable, info.fps());
    indices = FrameSampler.sample(se[0], se[1], numFrames);
    try (FFmpegFrameGrabber g = open(file)) {
      int again = decodeSelected(g, file, indices, delivered, consumer, deadline, times, buffers);
      if (again <= indices[indices.length - 1]) {
        throw new MediaException(
            Reason.UNREADABLE,
            "the video decoded "
                + decodable
                + " frames the first time and "
                + again
                + " the second time");
      }
    } catch (org.bytedeco.javacv.FrameGrabber.Exception e) {
      throw new MediaException(Reason.UNREADABLE, "cannot close the video decoder", e);
    }
    return new VideoSampling(info, se[0], se[1], indices);
  }

  private FFmpegFrameGrabber open(Path file) {
    FFmpegFrameGrabber g = new FFmpegFrameGrabber(file.toFile());
    // The grabber opens and probes; PacketDecoder decodes and RgbConverter turns the sampled frames
    // into RGB (bicubic chroma interpolation, the default of FFmpeg's scale filter that decord's
    // filter graph goes through [inferred: not checked against decord's output]). The grabber's
    // own decoder stays single-threaded: it only decodes what probing needs.
    g.setVideoOption("threads", "1");
    try {
      g.start();
    } catch (org.bytedeco.javacv.FrameGrabber.Exception | RuntimeException e) {
      closeQuietly(g);
      // The library's message names the server's file and gives advice meant for developers: it
      // stays in the
      // cause (for the log), the caller's message says what is wrong with the media.
      throw new MediaException(
          Reason.UNREADABLE, "the media is not a video in a container and codec FFmpeg reads", e);
    }
    if (!g.hasVideo()) {
      closeQuietly(g);
      throw new MediaException(Reason.NO_VIDEO_STREAM, "the media has no video stream");
    }
    return g;
  }

  private VideoInfo probe(FFmpegFrameGrabber g) {
    int w = g.getImageWidth();
    int h = g.getImageHeight();
    if (w <= 0 || h <= 0) {
      // FFmpeg learns the size from the first decodable frame; none could be decoded while probing
      throw new MediaException(
          Reason.NO_FRAMES,
          "the video stream has no decodable frame (size " + w + "x" + h + " unknown)");
    }
    limits.checkDimensions(w, h);
    double fps = g.getVideoFrameRate();
    if (!(fps > 0) || !Double.isFinite(fps) || fps > 1000) {
      throw new MediaException(Reason.UNREADABLE, "frame rate " + fps + " is not in (0, 1000]");
    }
    long us = g.getLengthInTime();
    double duration = us > 0 ? us / 1e6 : 0.0;
    if (duration > limits.maxDurationSeconds()) {
      throw new MediaException(
          Reason.TOO_LONG,
          String.format(
              Locale.ROOT,
              "duration %.3f s is over the limit of %.3f s",
              duration,
              limits.maxDurationSeconds()));
    }
    long n = streamFrameCount(g);
    if (n <= 0) {
      n = Math.round(fps * duration);
    }
    if (n > limits.maxFrameCount()) {
      throw new MediaException(
          Reason.TOO_LONG,
          "the video declares " + n + " frames, over the limit of " + limits.maxFrameCount());
    }
    if (n <= 0) {
      // Neither a frame count nor a duration: decode to the end (bounded) and sample over what is
      // there.
      n = limits.maxFrameCount();
    }
    if (duration == 0.0) {
      duration = n / fps;
    }
    return new VideoInfo(w, h, fps, duration, (int) n);
  }

  /** {@code nb_frames} of the first video stream, as decord reads it; 0 when unknown. */
  private static long streamFrameCount(FFmpegFrameGrabber g) {
    AVFormatContext ctx = g.getFormatContext();
    for (int i = 0; i < ctx.nb_streams(); i++) {
      AVStream st = ctx.streams(i);
      if (st.codecpar().codec_type() == avutil.AVMEDIA_TYPE_VIDEO
          && st.codecpar().codec_id() != avcodec.AV_CODEC_ID_NONE) {
        return st.nb_frames();
      }
    }
    return 0;
  }

  /**
   * Decodes frames 0.. in order until the last wanted one, converting only the wanted ones not yet
   * delivered.
   *
   * @return the number of frames decoded (less than the last wanted index + 1 when the stream ended
   *     early)
   */
  private int decodeSelected(
      FFmpegFrameGrabber g,
      Path file,
      int[] indices,
      Set<Integer> delivered,
      SampledFrameConsumer consumer,
      long deadline,
      StageTimes times,
      java.util.function.IntFunction<byte[]> buffers) {
    try (PacketDecoder dec = new PacketDecoder(g.getFormatContext(), decodeThreads);
        RgbConverter rgb = new RgbConverter()) {
      return decodeSelected(dec, file, indices, delivered, consumer, deadline, times, rgb, buffers);
    }
  }

  private int decodeSelected(
      PacketDecoder dec,
      Path file,
      int[] indices,
      Set<Integer> delivered,
      SampledFrameConsumer consumer,
      long deadline,
      StageTimes times,
      RgbConverter rgb,
      java.util.function.IntFunction<byte[]> buffers) {
    int[] wanted = Arrays.stream(indices).distinct().sorted().toArray();
    int last = wanted[wanted.length - 1];
    int next = 0; // position in wanted
    int index = 0;
    while (index <= last) {
      if (System.nanoTime() - deadline > 0) {
        throw new MediaException(
            Reason.DECODE_TIMEOUT,
            "decoding the video took longer than "
                + limits.maxDecodeTime()
                + " (reached frame "
                + index
                + ")");
      }
      if (Thread.currentThread().isInterrupted()) {
        throw new java.util.concurrent.CancellationException(
            "decoding " + file.getFileName() + " was interrupted at frame " + index);
      }
      if (index >= limits.maxFrameCount()) {
        throw new MediaException(
            Reason.TOO_LONG, "the video has more than " + limits.maxFrameCount() + " frames");
      }
      boolean want = wanted[next] == index && !delivered.contains(index);
      long t0 = System.nanoTime();
      long c0 = StageTimes.threadCpu();
      // null: the end, or a broken packet mid-stream, which ends the decodable part
      AVFrame picture = dec.next();
      if (picture == null) {
        break;
      }
      long t1 = System.nanoTime();
      long c1 = StageTimes.threadCpu();
      times.decoded(t1 - t0, c1 - c0);
      if (want) {
        RgbImage img = rgb.convert(picture, buffers);
        times.converted(System.nanoTime() - t1, StageTimes.threadCpu() - c1);
        consumer.accept(index, img);
        delivered.add(index);
      }
      if (wanted[next] == index) {
        next++;
      }
      index++;
    }
    return index;
  }

  // ---------------------------------------------------------------- images

  /** Decodes a JPEG, PNG, BMP or GIF (first frame) to RGB, without applying EXIF orientation. */
  public DecodedMedia decodeImage(byte[] content) {
    limits.checkBytes(content.length);
    RgbImage img;
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(content))) {
      img = readImage(in);
    } catch (IOException e) {
      throw new MediaException(Reason.UNREADABLE, "not a readable image", e);
    }
    return asImage(img);
  }

  /** Decodes an image file; see {@link #decodeImage(byte[])}. */
  public DecodedMedia decodeImage(Path file) {
    checkFile(file);
    try {
      return decodeImage(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /** Wraps one RGB picture as an image request. */
  public static DecodedMedia asImage(RgbImage img) {
    return new DecodedMedia(
        DecodedMedia.Kind.IMAGE,
        new VideoInfo(img.width(), img.height(), 0.0, 0.0, 1),
        0,
        0,
        new int[] {0},
        List.of(img));
  }

  private RgbImage readImage(ImageInputStream in) throws IOException {
    if (in == null) {
      throw new MediaException(Reason.UNREADABLE, "no image input stream");
    }
    Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
    ImageReader reader = null;
    while (readers.hasNext()) {
      ImageReader r = readers.next();
      if (IMAGE_FORMATS.contains(r.getFormatName().toLowerCase(Locale.ROOT))) {
        reader = r;
        break;
      }
    }
    if (reader == null) {
      throw new MediaException(Reason.UNREADABLE, "not a JPEG, PNG, BMP or GIF image");
    }
    List<String> warnings = new ArrayList<>();
    try {
      reader.setInput(in, true, true);
      reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
      int w = reader.getWidth(0);
      int h = reader.getHeight(0);
      limits.checkDimensions(w, h);
      BufferedImage bi = reader.read(0);
      if (!warnings.isEmpty()) {
        // e.g. "Premature end of JPEG file": Pillow refuses truncated images by default, so do we.
        throw new MediaException(
            Reason.UNREADABLE,
            "damaged " + reader.getFormatName() + " image: " + String.join("; ", warnings));
      }
      return toRgb(bi);
    } catch (IOException | RuntimeException e) {
      if (e instanceof MediaException me) {
        throw me;
      }
      throw new MediaException(
          Reason.UNREADABLE, "damaged " + reader.getFormatName() + " image", e);
    } finally {
      reader.dispose();
    }
  }

  /**
   * The picture's stored 8-bit samples as RGB: grey is replicated, alpha is dropped (not
   * composited), embedded colour profiles are ignored (as PIL's {@code convert("RGB")} does). Other
   * layouts go through {@link BufferedImage#getRGB}.
   */
  public static RgbImage toRgb(BufferedImage bi) {
    int w = bi.getWidth();
    int h = bi.getHeight();
    byte[] out = new byte[w * h * 3];
    Raster r = bi.getRaster();
    int bands = r.getNumBands();
    if (bi.getColorModel() instanceof ComponentColorModel
        && r.getTransferType() == DataBuffer.TYPE_BYTE
        && bands >= 1
        && bands <= 4) {
      int[] row = new int[w * bands];
      for (int y = 0; y < h; y++) {
        r.getPixels(0, y, w, 1, row);
        int o = y * w * 3;
        for (int x = 0; x < w; x++) {
          int p = x * bands;
          if (bands <= 2) {
            byte v = (byte) row[p];
            out[o++] = v;
            out[o++] = v;
            out[o++] = v;
          } else {
            out[o++] = (byte) row[p];
            out[o++] = (byte) row[p + 1];
            out[o++] = (byte) row[p + 2];
          }
        }
      }
    } else {
      int[] argb = new int[w];
      for (int y = 0; y < h; y++) {
        bi.getRGB(0, y, w, 1, argb, 0, w);
        int o = y * w * 3;
        for (int x = 0; x < w; x++) {
          int v = argb[x];
          out[o++] = (byte) (v >> 16);
          out[o++] = (byte) (v >> 8);
          out[o++] = (byte) v;
        }
      }
    }
    return new RgbImage(w, h, out);
  }

  // ---------------------------------------------------------------- pre-decoded frames

  /**
   * Pre-decoded frames used as given: {@code T = frames.size()}, no sampling, sampled index {@code
   * i} is frame {@code i}.
   *
   * @param fps the frames' rate, used only to map answers back to seconds; must be positive
   */
  public DecodedMedia fromFrames(List<RgbImage> frames, double fps) {
    checkFrames(frames, fps);
    int n = frames.size();
    int[] idx = new int[n];
    Arrays.setAll(idx, i -> i);
    return new DecodedMedia(
        DecodedMedia.Kind.FRAMES, framesInfo(frames, fps), 0, n - 1, idx, frames);
  }

  /**
   * Pre-decoded frames sampled like a video: {@code numFrames} frames of {@code clip} (null: all).
   */
  public DecodedMedia sampleFrames(
      List<RgbImage> frames, double fps, int numFrames, @Nullable ClipRange clip) {
    checkFrames(frames, fps);
    int n = frames.size();
    int[] se = clip == null ? ClipRange.whole(n) : clip.resolve(n, fps);
    int[] idx = FrameSampler.sample(se[0], se[1], numFrames);
    List<RgbImage> picked = new ArrayList<>(numFrames);
    for (int i : idx) {
      picked.add(frames.get(i));
    }
    return new DecodedMedia(
        DecodedMedia.Kind.FRAMES, framesInfo(frames, fps), se[0], se[1], idx, picked);
  }

  /**
   * Checks a sequence of {@code count} encoded frames at {@code fps} against the limits (without
   * decoding any) and samples it like a video.
   *
   * @return {@code [clipStart, clipEnd, sampled indices...]}
   */
  int[] planFrames(int count, double fps, int numFrames, @Nullable ClipRange clip) {
    if (count == 0) {
      throw new MediaException(Reason.EMPTY, "no frames given");
    }
    if (!(fps > 0) || !Double.isFinite(fps)) {
      throw new MediaException(Reason.INVALID_FRAMES, "fps must be a positive number, got " + fps);
    }
    if (count > limits.maxFrameCount()) {
      throw new MediaException(
          Reason.TOO_LONG, count + " frames given, over the limit of " + limits.maxFrameCount());
    }
    int[] se = clip == null ? ClipRange.whole(count) : clip.resolve(count, fps);
    int[] idx = FrameSampler.sample(se[0], se[1], numFrames);
    int[] out = new int[idx.length + 2];
    out[0] = se[0];
    out[1] = se[1];
    System.arraycopy(idx, 0, out, 2, idx.length);
    return out;
  }

  private void checkFrames(List<RgbImage> frames, double fps) {
    if (frames == null || frames.isEmpty()) {
      throw new MediaException(Reason.EMPTY, "no frames given");
    }
    if (!(fps > 0) || !Double.isFinite(fps)) {
      throw new MediaException(Reason.INVALID_FRAMES, "fps must be a positive number, got " + fps);
    }
    if (frames.size() > limits.maxFrameCount()) {
      throw new MediaException(
          Reason.TOO_LONG,
          frames.size() + " frames given, over the limit of " + limits.maxFrameCount());
    }
    RgbImage first = frames.get(0);
    limits.checkDimensions(first.width(), first.height());
    for (int i = 1; i < frames.size(); i++) {
      RgbImage f = frames.get(i);
      checkSameSize(i, f.width(), f.height(), 0, first.width(), first.height());
    }
  }

  /**
   * Frames of one upload must share a size: frame {@code i} ({@code w x h}) against frame {@code
   * ref} ({@code refW x refH}).
   *
   * @throws MediaException INVALID_FRAMES when they differ
   */
  static void checkSameSize(int i, int w, int h, int ref, int refW, int refH) {
    if (w != refW || h != refH) {
      throw new MediaException(
          Reason.INVALID_FRAMES,
          "frame " + i + " is " + w + "x" + h + " but frame " + ref + " is " + refW + "x" + refH);
    }
  }

  private static VideoInfo framesInfo(List<RgbImage> frames, double fps) {
    RgbImage first = frames.get(0);
    return new VideoInfo(first.width(), first.height(), fps, frames.size() / fps, frames.size());
  }

  // ---------------------------------------------------------------- helpers

  /** True when the bytes start like a JPEG, PNG, BMP or GIF file. */
  public static boolean looksLikeImage(byte[] head) {
    return startsWith(head, 0xFF, 0xD8, 0xFF)
        || startsWith(head, 0x89, 'P', 'N', 'G')
        || startsWith(head, 'B', 'M')
        || startsWith(head, 'G', 'I', 'F', '8');
  }

  private static boolean startsWith(byte[] b, int... magic) {
    if (b.length < magic.length) {
      return false;
    }
    for (int i = 0; i < magic.length; i++) {
      if ((b[i] & 0xff) != magic[i]) {
        return false;
      }
    }
    return true;
  }

  private void checkFile(Path file) {
    Objects.requireNonNull(file, "file");
    try {
      limits.checkBytes(Files.size(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the size of " + file, e);
    }
  }

  private static Path writeTemp(byte[] content) {
    try {
      Path tmp = Files.createTempFile("llavast-media-", ".bin");
      Files.write(tmp, content);
      return tmp;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write a temporary media file", e);
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // a stray temp file is not worth failing the request for
    }
  }

  private static void closeQuietly(FFmpegFrameGrabber g) {
    try {
      g.close();
    } catch (Exception ignored) {
      // already failing
    }
  }
}

package dev.llavast.models.media;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.ffmpeg.global.swscale;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;

/**
 * Media decode against FFmpeg's own full decode, in one run (issue 15). Writes three H.264 clips of
 * the shapes (320x480 187 frames at 6.1 fps, the clip being 187 frames in 30.6 s;
 * 320x240 604 frames and 640x360 1,090 frames at 30 fps, their rates not known) and prints, per
 * clip, the median of several interleaved runs of:
 *
 * <ul>
 *   <li><b>full decode</b>: open the file and decode every frame with one FFmpeg thread, converting
 *       nothing, through the same libraries ({@code ffmpeg -threads 1 -i X -f null -});
 *   <li><b>ours</b>: {@link ImagePreprocessor#prepareVideo} sampling 100 frames (decode, to RGB,
 *       384x384 Pillow-bicubic resize, normalise) with 1 FFmpeg thread and with the default, on a
 *       frame pool of one thread per core, with the time of each stage;
 *   <li><b>old path</b>: what the code did before issue 15, kept callable here: JavaCV's grabber
 *       converting the sampled frames (auto threads), and the reference Pillow port resizing them.
 * </ul>
 *
 * The clips ({@link TestVideos#writeCameraLike}) are Main profile with CABAC, at {@code width *
 * height * 4} bit/s asked for, with a moving texture and per-pixel noise in every channel that
 * changes every frame. They replaced openh264's default Constrained Baseline (CAVLC) clips at 30
 * fps, which decoded 5.6x / 2.0x / 1.6x faster per frame than these (0.27 / 0.13 / 0.51 against
 * 1.50 / 0.27 / 0.83 ms of CPU in one session): not for lack of bits (the encoder met or passed its
 * bitrate, 0.17-0.19 bit per pixel per frame, and the noise changed neither bitrate nor decode
 * time), but because CAVLC costs about half of CABAC per bit and the 320x480 clip ran at 30 fps
 * where the runs at 6.1, so at the same bitrate each frame carried a fifth of the bits. The
 * issue's camera clips took longer per frame on the reporter's machine (about 2.0 / 1.1 / 0.6 ms
 * with {@code ffmpeg -threads 1}, process start included); their bitrates are not known, so the
 * ratios here are for these clips.
 *
 * <p>Run: {@code ./mvnw -B -q -o -pl models -am test-compile}, then {@code java -Xms2g -Xmx2g
 * -XX:+AlwaysPreTouch -cp models/target/classes:models/target/test-classes:$(cat cp.txt)
 * dev.llavast.models.media.MediaDecodeBenchmark [runs] [dir]} (a pre-touched fixed heap, as
 * deployments run: otherwise the 177 MB pixel array of a 100-frame video now and then lands in
 * fresh memory and costs its thread ~0.5 s of page faults, which is not decode work), with {@code
 * cp.txt} from {@code ./mvnw -q -o -pl models dependency:build-classpath -Dmdep.outputFile=cp.txt
 * -Dmdep.includeScope=test}; or the slow {@code MediaBenchmarkTest}. Ratios are what to compare;
 * absolute times depend on the machine and its load.
 */
public final class MediaDecodeBenchmark {
  static final int SAMPLED = 100;

  /**
   * Untimed runs of every path per clip first: with one, the first clip's resize still ran partly
   * before C2 had compiled it (1.8 against 1.0 ms of CPU per frame).
   */
  static final int WARMUP = 3;

  record Clip(String name, int width, int height, int frames, double fps) {}

  static final List<Clip> CLIPS =
      List.of(
          new Clip("320x480", 320, 480, 187, 6.1),
          new Clip("320x240", 320, 240, 604, 30.0),
          new Clip("640x360", 640, 360, 1090, 30.0));

  record Row(
      Clip clip,
      long fileBytes,
      double fullMs,
      double ours1Ms,
      double oursNMs,
      int threadsN,
      double oldMs,
      StageTimes stages1,
      double fullCpuMs,
      double ours1CpuMs,
      double oldCpuMs) {}

  /** CPU time of the whole process (every Java and FFmpeg thread), ns. */
  static long processCpu() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private MediaDecodeBenchmark() {}

  public static void main(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    Path dir = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("llavast-bench");
    print(run(dir, runs), System.out);
  }

  /** Writes the clips into {@code dir} (reused when present) and measures them. */
  static List<Row> run(Path dir, int runs) throws Exception {
    int cores = Runtime.getRuntime().availableProcessors();
    ExecutorService pool =
        new ThreadPoolExecutor(
            cores,
            cores,
            60,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(cores * 64),
            new ThreadPoolExecutor.CallerRunsPolicy());
    List<Row> rows = new ArrayList<>();
    try {
      for (Clip c : CLIPS) {
        Path file =
            dir.resolve(
                String.format(
                    Locale.ROOT, "h264main-%s-%d-%sfps.mp4", c.name(), c.frames(), c.fps()));
        if (!Files.exists(file)) {
          TestVideos.writeCameraLike(file, c.width(), c.height(), c.frames(), c.fps());
        }
        rows.add(measure(c, file, runs, pool));
      }
    } finally {
      pool.shutdownNow();
    }
    return rows;
  }

  private static Row measure(Clip c, Path file, int runs, ExecutorService pool) throws Exception {
    ImagePreprocessor pre = new ImagePreprocessor();
    MediaDecoder one = new MediaDecoder(MediaLimits.defaults(), 1);
    MediaDecoder auto = new MediaDecoder(MediaLimits.defaults());
    // warm up every path (JIT, FFmpeg's tables)
    for (int w = 0; w < WARMUP; w++) {
      fullDecode(file);
      pre.prepareVideo(one, file, SAMPLED, null, "w", pool);
      oldPath(file, pre, pool);
    }
    double[] full = new double[runs];
    double[] ours1 = new double[runs];
    double[] oursN = new double[runs];
    double[] old = new double[runs];
    double[] fullCpu = new double[runs];
    double[] ours1Cpu = new double[runs];
    double[] oldCpu = new double[runs];
    StageTimes[] stages = new StageTimes[runs];
    for (int r = 0; r < runs; r++) {
      long c0 = processCpu();
      long t0 = System.nanoTime();
      int n = fullDecode(file);
      long t1 = System.nanoTime();
      long c1 = processCpu();
      stages[r] = new StageTimes();
      pre.prepareVideo(one, file, SAMPLED, null, "k", pool, stages[r]);
      long t2 = System.nanoTime();
      long c2 = processCpu();
      pre.prepareVideo(auto, file, SAMPLED, null, "k", pool);
      long t3 = System.nanoTime();
      long c3 = processCpu();
      oldPath(file, pre, pool);
      long t4 = System.nanoTime();
      long c4 = processCpu();
      fullCpu[r] = (c1 - c0) / 1e6;
      ours1Cpu[r] = (c2 - c1) / 1e6;
      oldCpu[r] = (c4 - c3) / 1e6;
      if (n != c.frames()) {
        throw new IllegalStateException(c + ": decoded " + n + " frames");
      }
      full[r] = (t1 - t0) / 1e6;
      ours1[r] = (t2 - t1) / 1e6;
      oursN[r] = (t3 - t2) / 1e6;
      old[r] = (t4 - t3) / 1e6;
    }
    int mid = medianIndex(ours1);
    return new Row(
        c,
        Files.size(file),
        median(full),
        ours1[mid],
        median(oursN),
        auto.decodeThreads(),
        median(old),
        stages[mid],
        median(fullCpu),
        median(ours1Cpu),
        median(oldCpu));
  }

  /** Opens the file and decodes every frame with one thread, converting nothing. */
  static int fullDecode(Path file) throws Exception {
    int n = 0;
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(file.toFile())) {
      g.setVideoOption("threads", "1");
      g.start();
      try (PacketDecoder dec = new PacketDecoder(g.getFormatContext(), 1)) {
        AVFrame f;
        while ((f = dec.next()) != null) {
          n += f.width() > 0 ? 1 : 0;
        }
      }
    }
    return n;
  }

  /**
   * The path before issue 15: the grabber (JavaCV's default threads) converts each sampled frame to
   * RGB, the frame is copied out and resized by the reference port on the pool, and the pixels are
   * normalised on the calling thread at the end.
   */
  static float[] oldPath(Path file, ImagePreprocessor pre, ExecutorService pool) throws Exception {
    List<CompletableFuture<RgbImage>> resized = new ArrayList<>();
    int[] idx;
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(file.toFile())) {
      g.setPixelFormat(avutil.AV_PIX_FMT_RGB24);
      g.setImageScalingFlags(swscale.SWS_BICUBIC);
      g.start();
      int count = g.getLengthInVideoFrames();
      idx = FrameSampler.sample(0, count - 1, SAMPLED);
      int[] wanted = Arrays.stream(idx).distinct().toArray();
      int next = 0;
      for (int i = 0; i <= wanted[wanted.length - 1]; i++) {
        boolean want = wanted[next] == i;
        Frame f = g.grabFrame(false, true, want, false, false);
        if (f == null) {
          break;
        }
        if (want) {
          RgbImage img = copy(f);
          resized.add(
              CompletableFuture.supplyAsync(
                  () -> PillowBicubicReference.resize(img, pre.size(), pre.size()), pool));
          next++;
        }
      }
    }
    int per = 3 * pre.size() * pre.size();
    float[] pixels = new float[idx.length * per];
    int[] wanted = Arrays.stream(idx).distinct().toArray();
    for (int i = 0; i < idx.length; i++) {
      pre.normalizeInto(resized.get(Arrays.binarySearch(wanted, idx[i])).join(), pixels, i * per);
    }
    return pixels;
  }

  private static RgbImage copy(Frame f) {
    int w = f.imageWidth;
    int h = f.imageHeight;
    ByteBuffer buf = ((ByteBuffer) f.image[0]).duplicate();
    byte[] out = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      buf.position(y * f.imageStride);
      buf.get(out, y * w * 3, w * 3);
    }
    return new RgbImage(w, h, out);
  }

  static void print(List<Row> rows, java.io.PrintStream out) {
    out.printf(
        Locale.ROOT,
        "media decode benchmark: H.264 (openh264, Main, CABAC), %d frames sampled and resized to"
            + " 384x384, %d cores, medians%n",
        SAMPLED,
        Runtime.getRuntime().availableProcessors());
    out.println(
        "| clip | frames | full decode, 1 thread (ms) | ours, 1 thread (ms) | ratio"
            + " | ours, N threads (ms) | ratio | old path (ms) | old / ours"
            + " | ours 1 thread: decode / to RGB / resize, wall (ms)"
            + " | same, CPU of the threads (ms) |");
    out.println("|---|---|---|---|---|---|---|---|---|---|---|");
    List<String> cpu = new ArrayList<>();
    for (Row r : rows) {
      StageTimes s = r.stages1();
      out.printf(
          Locale.ROOT,
          "| %s | %d | %.0f | %.0f | %.2fx | %.0f (N=%d) | %.2fx | %.0f | %.2fx"
              + " | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f |%n",
          r.clip().name(),
          r.clip().frames(),
          r.fullMs(),
          r.ours1Ms(),
          r.ours1Ms() / r.fullMs(),
          r.oursNMs(),
          r.threadsN(),
          r.oursNMs() / r.fullMs(),
          r.oldMs(),
          r.oldMs() / r.ours1Ms(),
          s.decodeNanos() / 1e6,
          s.convertNanos() / 1e6,
          s.resizeNanos() / 1e6,
          s.decodeCpuNanos() / 1e6,
          s.convertCpuNanos() / 1e6,
          s.resizeCpuNanos() / 1e6);
      cpu.add(
          String.format(
              Locale.ROOT,
              "| %s | %.0f | %.0f | %.2fx | %.0f | %.2fx |",
              r.clip().name(),
              r.fullCpuMs(),
              r.ours1CpuMs(),
              r.ours1CpuMs() / r.fullCpuMs(),
              r.oldCpuMs(),
              r.oldCpuMs() / r.ours1CpuMs()));
    }
    out.println();
    out.println(
        "process CPU time (all threads; what a loaded machine charges):"
            + System.lineSeparator()
            + "| clip | full decode CPU (ms) | ours, 1 thread, CPU (ms) | ratio | old path CPU (ms)"
            + " | old / ours |");
    out.println("|---|---|---|---|---|---|");
    cpu.forEach(out::println);
    out.println();
    out.println(
        "clips (H.264 Main, CABAC): | clip | fps | kbit/s (size * 8 / duration) | bit per pixel"
            + " per frame | full decode CPU per frame (ms) |");
    out.println("|---|---|---|---|---|");
    for (Row r : rows) {
      Clip c = r.clip();
      double bits = r.fileBytes() * 8.0;
      out.printf(
          Locale.ROOT,
          "| %s | %.1f | %.0f | %.2f | %.3f |%n",
          c.name(),
          c.fps(),
          bits / (c.frames() / c.fps()) / 1000,
          bits / c.frames() / ((double) c.width() * c.height()),
          r.fullCpuMs() / c.frames());
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static int medianIndex(double[] v) {
    double m = median(v);
    for (int i = 0; i < v.length; i++) {
      if (v[i] == m) {
        return i;
      }
    }
    return 0;
  }
}

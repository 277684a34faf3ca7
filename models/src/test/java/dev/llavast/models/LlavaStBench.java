package dev.llavast.models;

import ai.djl.Device;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.ImagePreprocessor;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;

/**
 * Benchmark main (not a test) of issue 3, on the real {@link TinyCheckpoints} presets written to a
 * temporary directory and opened with {@link LlavaSt}: for a 640x360, 10 s, 30 fps MPEG-4 test
 * video it times decode + sampling of 100 frames, preprocessing, encoding (SigLIP, projector, LAPE,
 * STP), prefill of the rendered ~2 550-token video prompt (chunks of 512 through the paged KV
 * cache), and decode steps at batch 1, 8 and 32.
 *
 * <p>Decode batches share the video prompt's full KV blocks (as the scheduler's prefix cache does)
 * and each sequence owns the blocks from its prompt's last partial block on, so every decoding
 * sequence attends over the whole ~2 550-token context. Usage (from the repository root):
 *
 * <pre>
 * ./mvnw -B -o -pl models -am test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp-\${project.artifactId}.txt
 * java -Dai.djl.offline=true -cp "models/target/test-classes:models/target/classes:$(cat /tmp/cp-llavast-models.txt)" \
 *   dev.llavast.models.LlavaStBench [presets tiny,small] [cpuThreads 1] [decodeSteps 10]
 * </pre>
 *
 * or {@code ./mvnw -B -pl models -am test -Pslow -Dtest=LlavaStBenchTest
 * -Dsurefire.failIfNoSpecifiedTests=false}. Single-threaded: the calling thread owns every model it
 * makes.
 */
public final class LlavaStBench {
  static final int WIDTH = 640;
  static final int HEIGHT = 360;
  static final int FRAMES = 300;
  static final double FPS = 30.0;
  static final int BLOCK = 16;
  static final int CHUNK = 512;

  private LlavaStBench() {}

  public static void main(String[] args) throws Exception {
    List<TinyCheckpoints.Preset> presets = new ArrayList<>();
    for (String p : (args.length > 0 ? args[0] : "tiny,small").split(",")) {
      presets.add(TinyCheckpoints.Preset.valueOf(p.trim().toUpperCase(Locale.ROOT)));
    }
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    int steps = args.length > 2 ? Integer.parseInt(args[2]) : 10;
    System.out.println(run(presets, threads, steps));
  }

  /**
   * Runs the whole benchmark and returns the table.
   *
   * @param cpuThreads PyTorch intra-op threads (0: the engine default)
   * @param decodeSteps timed decode steps per batch size
   */
  static String run(List<TinyCheckpoints.Preset> presets, int cpuThreads, int decodeSteps)
      throws Exception {
    StringBuilder out = new StringBuilder();
    String loadBefore = loadAverage();
    Path tmp = Files.createTempDirectory("llavast-bench-");
    int poolSize = Math.max(1, Runtime.getRuntime().availableProcessors());
    ExecutorService pool =
        Executors.newFixedThreadPool(
            poolSize,
            r -> {
              Thread t = new Thread(r, "bench-media");
              t.setDaemon(true);
              return t;
            });
    try {
      Path video = writeVideo(tmp.resolve("bench.mp4"));
      out.append(
          String.format(
              Locale.ROOT,
              "LLaVA-ST benchmark on %s: %d cores, torch intra-op threads %s, media pool %d;"
                  + " load average before: %s%n",
              Device.cpu(),
              Runtime.getRuntime().availableProcessors(),
              cpuThreads == 0 ? "default" : cpuThreads,
              poolSize,
              loadBefore));
      out.append(
          String.format(
              Locale.ROOT,
              "video: %dx%d, %d frames at %.0f fps (%.0f s, MPEG-4, %d bytes), 100 frames"
                  + " sampled%n",
              WIDTH,
              HEIGHT,
              FRAMES,
              FPS,
              FRAMES / FPS,
              Files.size(video)));

      // ---- media (independent of the preset): second of two runs
      MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
      ImagePreprocessor pre = new ImagePreprocessor();
      double decodeMs = 0;
      double preMs = 0;
      double streamMs = 0;
      PixelFrames pixels = null;
      for (int run = 0; run < 2; run++) {
        long t0 = System.nanoTime();
        DecodedMedia m = decoder.decodeVideo(video, 100, null);
        long t1 = System.nanoTime();
        pixels = pre.preprocess(m, "bench", pool);
        long t2 = System.nanoTime();
        pre.prepareVideo(decoder, video, 100, null, "bench", pool);
        long t3 = System.nanoTime();
        decodeMs = (t1 - t0) / 1e6;
        preMs = (t2 - t1) / 1e6;
        streamMs = (t3 - t2) / 1e6;
      }
      out.append(
          String.format(
              Locale.ROOT,
              "media: decode + sample %.0f ms | preprocess (resize + normalize, pool %d)"
                  + " %.0f ms | streamed decode+preprocess %.0f ms%n%n",
              decodeMs,
              poolSize,
              preMs,
              streamMs));

      out.append(
          "| preset | LLM (hidden x layers, V) | vision (hidden x layers) | load s | encode s/video"
              + " | prefill tokens | prefill s | prefill tok/s | decode b1 ms/step (tok/s) | b8 | b32 |\n");
      out.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
      for (TinyCheckpoints.Preset preset : presets) {
        out.append(
                benchPreset(
                    preset,
                    tmp.resolve(preset.name().toLowerCase(Locale.ROOT)),
                    pixels,
                    cpuThreads,
                    decodeSteps))
            .append('\n');
      }
      out.append(String.format(Locale.ROOT, "%nload average after: %s%n", loadAverage()));
    } finally {
      pool.shutdownNow();
      deleteTree(tmp);
    }
    return out.toString();
  }

  private static String benchPreset(
      TinyCheckpoints.Preset preset, Path dir, PixelFrames pixels, int cpuThreads, int decodeSteps)
      throws IOException {
    TinyCheckpoints.write(dir, preset, 1L);
    long l0 = System.nanoTime();
    try (LlavaSt model = LlavaSt.open(dir);
        LlavaStModel exec = model.newExecutor(Device.cpu(), false, cpuThreads)) {
      double loadS = (System.nanoTime() - l0) / 1e9;
      ModelConfig cfg = model.config();
      int s = cfg.vision().imageSize();

      // warm the encoder's code paths on one image, then time one 100-frame video
      exec.encode(new PixelFrames("warm", false, 1, s, Arrays.copyOf(pixels.pixels(), 3 * s * s)));
      long e0 = System.nanoTime();
      MediaFeatures features = exec.encode(pixels);
      double encodeS = (System.nanoTime() - e0) / 1e9;

      RenderedPrompt rendered =
          model
              .chatTemplate()
              .render(
                  ChatTemplate.Media.VIDEO,
                  "Give the query: 'the colour changes', when does the described content occur in the video?");
      PromptInput prompt = rendered.toPromptInput(features);
      int len = prompt.length();
      int prefixBlocks = len / BLOCK; // full blocks shared by every decoding sequence
      int ownBlocks = (len - prefixBlocks * BLOCK + decodeSteps + 2 + BLOCK - 1) / BLOCK;
      int promptBlocks = (len + BLOCK - 1) / BLOCK;
      int totalBlocks = promptBlocks + (1 + 8 + 32) * ownBlocks;
      exec.allocateKvCache(totalBlocks, BLOCK);
      SamplingParams greedy = SamplingParams.greedy(1_000_000, model.stopTokenIds());

      // warm-up: a short text prompt through the same kernels
      int[] warmIds = Arrays.copyOf(prompt.tokenIds(), 40);
      int[] warmTable = range(0, 3);
      exec.step(
          new StepPlan(
              BLOCK,
              List.of(
                  new SequenceStep(
                      0,
                      PromptInput.ofTokens(warmIds),
                      warmIds,
                      0,
                      warmTable,
                      true,
                      greedy,
                      new int[0]))));

      int[] promptTable = range(0, promptBlocks);
      long p0 = System.nanoTime();
      for (int pos = 0; pos < len; pos += CHUNK) {
        int n = Math.min(CHUNK, len - pos);
        exec.step(
            new StepPlan(
                BLOCK,
                List.of(
                    new SequenceStep(
                        0,
                        prompt,
                        Arrays.copyOfRange(prompt.tokenIds(), pos, pos + n),
                        pos,
                        promptTable,
                        pos + n == len,
                        greedy,
                        new int[0]))));
      }
      double prefillS = (System.nanoTime() - p0) / 1e9;

      StringBuilder decode = new StringBuilder();
      int nextOwn = promptBlocks;
      for (int batch : new int[] {1, 8, 32}) {
        int[][] tables = new int[batch][];
        List<SequenceStep> tails = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
          int[] t = new int[prefixBlocks + ownBlocks];
          System.arraycopy(promptTable, 0, t, 0, prefixBlocks);
          for (int i = 0; i < ownBlocks; i++) {
            t[prefixBlocks + i] = nextOwn++;
          }
          tables[b] = t;
          int from = prefixBlocks * BLOCK;
          if (from
              < len) { // the prompt's last partial block, recomputed into this sequence's own block
            tails.add(
                new SequenceStep(
                    100 + b,
                    prompt,
                    Arrays.copyOfRange(prompt.tokenIds(), from, len),
                    from,
                    t,
                    true,
                    greedy,
                    new int[0]));
          }
        }
        int[] next = new int[batch];
        if (!tails.isEmpty()) {
          next = exec.step(new StepPlan(BLOCK, tails)).tokenIds();
        } else {
          Arrays.fill(next, rendered.tokenIds()[len - 1]);
        }
        int pos = len;
        long d0 = 0;
        for (int i = 0; i < decodeSteps + 1; i++) { // the first step is a warm-up
          if (i == 1) {
            d0 = System.nanoTime();
          }
          List<SequenceStep> steps = new ArrayList<>(batch);
          for (int b = 0; b < batch; b++) {
            steps.add(
                new SequenceStep(
                    100 + b,
                    prompt,
                    new int[] {next[b]},
                    pos,
                    tables[b],
                    true,
                    greedy,
                    new int[] {next[b]}));
          }
          StepResult r = exec.step(new StepPlan(BLOCK, steps));
          next = r.tokenIds();
          pos++;
        }
        double ms = (System.nanoTime() - d0) / 1e6 / decodeSteps;
        decode.append(String.format(Locale.ROOT, " %.1f (%.0f) |", ms, batch * 1000.0 / ms));
      }
      return String.format(
          Locale.ROOT,
          "| %s | %d x %d, %d | %d x %d | %.1f | %.2f | %d | %.2f | %.0f |%s",
          preset.name().toLowerCase(Locale.ROOT),
          cfg.hiddenSize(),
          cfg.numHiddenLayers(),
          cfg.vocabSize(),
          cfg.vision().hiddenSize(),
          cfg.vision().numHiddenLayers(),
          loadS,
          encodeS,
          len,
          prefillS,
          len / prefillS,
          decode);
    }
  }

  /**
   * A 640x360 MPEG-4 video whose content moves every frame (a gradient scrolling under a moving
   * bar).
   */
  static Path writeVideo(Path file) throws Exception {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), WIDTH, HEIGHT, 0)) {
      rec.setFormat("mp4");
      rec.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      rec.setFrameRate(FPS);
      rec.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      rec.setVideoQuality(4);
      rec.setGopSize(30);
      rec.start();
      Frame f = new Frame(WIDTH, HEIGHT, Frame.DEPTH_UBYTE, 3);
      ByteBuffer b = (ByteBuffer) f.image[0];
      for (int i = 0; i < FRAMES; i++) {
        int bar = (i * 7) % WIDTH;
        for (int y = 0; y < HEIGHT; y++) {
          for (int x = 0; x < WIDTH; x++) {
            int p = y * f.imageStride + x * 3;
            boolean inBar = x >= bar && x < bar + 40;
            b.put(p, (byte) (inBar ? 250 : (x + 2 * i)));
            b.put(p + 1, (byte) (inBar ? 20 : (y + i)));
            b.put(p + 2, (byte) ((x ^ y) + 3 * i));
          }
        }
        rec.record(f, avutil.AV_PIX_FMT_RGB24);
      }
      rec.stop();
    }
    return file;
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = 0; i < r.length; i++) {
      r[i] = from + i;
    }
    return r;
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}

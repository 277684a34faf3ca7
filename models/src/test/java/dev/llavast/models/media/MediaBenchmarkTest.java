package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.PixelFrames;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Timing of the media path on a 1280x720, 10 s, 30 fps MPEG-4 video (300 frames): decode + sample
 * 100 frames, preprocess, and both streamed. Not a pass/fail timing test; it prints a table. Run:
 * {@code ./mvnw -B -pl models -am verify -Pslow -Dtest=MediaBenchmarkTest
 * -Dsurefire.failIfNoSpecifiedTests=false}
 */
@Tag("slow")
class MediaBenchmarkTest {

  @Test
  void decodeAndPreprocessTimings(@TempDir Path dir) throws Exception {
    Path video = TestVideos.write(dir.resolve("hd.mp4"), 1280, 720, 300, 30.0, false);
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults());
    ImagePreprocessor pre = new ImagePreprocessor();
    try {
      System.out.printf(
          Locale.ROOT, "media benchmark: 1280x720, 300 frames, 100 sampled, pool of %d%n", threads);
      System.out.println(
          "run | decode+sample ms | preprocess ms | streamed decode+preprocess ms | 1 resize ms");
      for (int run = 0; run < 4; run++) {
        long t0 = System.nanoTime();
        DecodedMedia m = decoder.decodeVideo(video, 100, null);
        long t1 = System.nanoTime();
        PixelFrames pf = pre.preprocess(m, "k", pool);
        long t2 = System.nanoTime();
        ImagePreprocessor.Prepared streamed =
            pre.prepareVideo(decoder, video, 100, null, "k", pool);
        long t3 = System.nanoTime();
        pre.resize(m.frames().get(50));
        long t4 = System.nanoTime();
        assertThat(pf.frames()).isEqualTo(100);
        assertThat(streamed.pixels().frames()).isEqualTo(100);
        System.out.printf(
            Locale.ROOT,
            "%d | %.0f | %.0f | %.0f | %.1f%n",
            run,
            (t1 - t0) / 1e6,
            (t2 - t1) / 1e6,
            (t3 - t2) / 1e6,
            (t4 - t3) / 1e6);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}

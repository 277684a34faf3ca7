package dev.llavast.server;

import dev.llavast.api.v1.MediaKind;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.server.media.MediaTestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * What {@code --media-nice} buys (not a test): inter-token latency of 4 running streams on a cached
 * video while three new 640x360 videos of 900-902 frames are decoded at once, with the media
 * threads at nice 0 and at nice 10, alternately, each on a fresh tiny server (loopback gRPC). The
 * window is from the three requests until the slowest one's decode is done (its queue and media
 * decode time as the server reports them), so their encodes are not in it.
 *
 * <p>Run: {@code ./mvnw -B -q -o -pl server -am test-compile}, then {@code java -Xms2g -Xmx2g
 * -XX:+AlwaysPreTouch -cp <server test class path> dev.llavast.server.MediaPriorityBench [rounds]}
 * (Linux; elsewhere both settings are the same). Main thread only.
 */
public final class MediaPriorityBench {
  private MediaPriorityBench() {}

  public static void main(String[] a) throws Exception {
    Path dir = Files.createTempDirectory("llavast-media-priority");
    Path model = dir.resolve("tiny");
    TinyCheckpoints.write(model, TinyCheckpoints.Preset.TINY, 17);
    Path warm = MediaTestFiles.movingSquare(dir.resolve("w.mp4"), 256, 256, 150, 25.0);
    int rounds = a.length > 0 ? Integer.parseInt(a[0]) : 3;
    for (int round = 0; round < rounds; round++) {
      for (int nice : new int[] {0, 10}) {
        ServerConfig cfg =
            MultiQueryBenchmark.config(model, 8, true).toBuilder().mediaNice(nice).build();
        try (E2eClient c = E2eClient.start(cfg, Duration.ofMinutes(5))) {
          String w =
              c.upload(MediaKind.MEDIA_KIND_VIDEO, Files.readAllBytes(warm), "w.mp4").getMediaId();
          MultiQueryBenchmark.stream(c, w, 0, 0, 4, null).get(5, TimeUnit.MINUTES);
          List<String> heavy = new ArrayList<>();
          for (int i = 0; i < 3; i++) {
            Path f =
                MediaTestFiles.movingSquare(
                    dir.resolve("h" + round + nice + i + ".mp4"), 640, 360, 900 + i, 30.0);
            heavy.add(
                c.upload(MediaKind.MEDIA_KIND_VIDEO, Files.readAllBytes(f), "h.mp4").getMediaId());
          }
          List<List<Long>> times = new ArrayList<>();
          List<io.grpc.stub.ClientCallStreamObserver<dev.llavast.api.v1.GenerateRequest>> calls =
              new CopyOnWriteArrayList<>();
          List<CompletableFuture<MultiQueryBenchmark.Answer>> run = new ArrayList<>();
          for (int i = 0; i < 4; i++) {
            List<Long> t = new CopyOnWriteArrayList<>();
            times.add(t);
            run.add(
                MultiQueryBenchmark.stream(
                    c, w, 0, 100 + i, 4000, new MultiQueryBenchmark.Hooks(calls, t)));
          }
          while (times.stream().anyMatch(t -> t.size() < 4)) Thread.sleep(5);
          long calm0 = System.nanoTime();
          Thread.sleep(1000);
          long calm1 = System.nanoTime();
          long h0 = System.nanoTime();
          List<CompletableFuture<MultiQueryBenchmark.Answer>> hs = new ArrayList<>();
          for (String h : heavy) hs.add(MultiQueryBenchmark.stream(c, h, 1, 0, 1, null));
          double maxDecode = 0;
          for (var f : hs) {
            var ans = f.get(5, TimeUnit.MINUTES);
            maxDecode =
                Math.max(
                    maxDecode,
                    ans.timings().getQueueSeconds() + ans.timings().getMediaDecodeSeconds());
          }
          long h1 = h0 + (long) (maxDecode * 1e9);
          for (var call : calls) call.cancel("done", null);
          int calm = 0, dec = 0;
          for (List<Long> t : times)
            for (long x : t) {
              if (x >= calm0 && x < calm1) calm++;
              if (x >= h0 && x < h1) dec++;
            }
          double calmItl = (calm1 - calm0) / 1e6 / (calm / 4.0);
          double decItl = (h1 - h0) / 1e6 / (Math.max(1, dec) / 4.0);
          System.out.printf(
              Locale.ROOT,
              "nice %2d: ITL normal %.2f ms, while 3 videos decode (%.2f s) %.2f ms: %.2fx%n",
              nice,
              calmItl,
              maxDecode,
              decItl,
              decItl / calmItl);
          for (var f : run) {
            try {
              f.get(1, TimeUnit.MINUTES);
            } catch (ExecutionException cancelledByUs) {
              /* expected */
            }
          }
        }
      }
    }
    System.exit(0);
  }
}

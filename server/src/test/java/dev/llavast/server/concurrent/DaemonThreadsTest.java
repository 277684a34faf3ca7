package dev.llavast.server.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DaemonThreadsTest {

  /** The calling thread's nice value as the kernel reports it (field 19 of its stat line). */
  private static int kernelNice() {
    try {
      String stat = Files.readString(Path.of("/proc/thread-self/stat"));
      // the command name (field 2) is in parentheses and may hold spaces: count after its end
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ", -1);
      return Integer.parseInt(f[19 - 3]);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static int niceOfAPoolThread(int nice) throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor(DaemonThreads.factory("t", nice));
    try {
      return CompletableFuture.supplyAsync(DaemonThreadsTest::kernelNice, pool)
          .get(10, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void backgroundThreadsRunAtTheirNiceValueAndOthersAtTheCallersOne() throws Exception {
    assumeTrue(Files.isReadable(Path.of("/proc/thread-self/stat")), "needs Linux's /proc");
    int mine = kernelNice();
    assumeTrue(mine < 7, "the test process already runs at nice " + mine);
    assertThat(niceOfAPoolThread(7)).isEqualTo(7);
    assertThat(niceOfAPoolThread(0)).as("0 leaves the priority alone").isEqualTo(mine);
    assertThat(kernelNice()).as("only the pool's thread changed").isEqualTo(mine);
  }

  @Test
  void threadsAreDaemonsNamedAfterThePool() throws Exception {
    Thread t = DaemonThreads.factory("llavast-x", 3).newThread(() -> {});
    assertThat(t.isDaemon()).isTrue();
    assertThat(t.getName()).isEqualTo("llavast-x-1");
  }
}

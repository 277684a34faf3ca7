package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.generation.DeviceReport.DeviceMemory;
import dev.llavast.server.observability.Metrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start-up path on a real CUDA GPU: the device check passes with DJL's own report, the KV pool
 * is sized from cuda:0's memory after a warm-up step, and the engine then answers. Tagged {@code
 * gpu}: excluded by default, run by {@code -Pgpu} (scripts/gpu-check.sh), skipped where libtorch
 * has no CUDA. Prints {@code GPU-CHECK key=value} lines that the script collects into its table.
 */
@Tag("gpu")
class GpuEngineTest {
  private static final DeviceReport REAL = DeviceReport.djl();

  @BeforeAll
  static void needsCuda() {
    assumeTrue(
        REAL.cudaBuild() && REAL.gpuCount() > 0,
        "no CUDA GPU here (" + REAL.library() + "): set PYTORCH_LIBRARY_PATH etc., see README GPU");
  }

  @Test
  void theRealReportPassesTheCheckAndReadsMemory() {
    DeviceCheck.require(DeviceSpec.parse("cuda:0"), 0, REAL, System.getenv());
    DeviceMemory m = REAL.memory(Device.gpu(0)).orElseThrow();
    assertThat(m.freeBytes()).isPositive().isLessThanOrEqualTo(m.totalBytes());
    System.out.printf(
        Locale.ROOT,
        "GPU-CHECK gpus=%d cuda0_free_gib=%.1f cuda0_total_gib=%.1f library=%s%n",
        REAL.gpuCount(),
        m.freeBytes() / (double) (1L << 30),
        m.totalBytes() / (double) (1L << 30),
        REAL.library().replace(' ', '_'));
  }

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void theSmallModelSizesItsPoolFromTheGpuAndAnswers(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("small");
    TinyCheckpoints.write(model, TinyCheckpoints.Preset.SMALL, 17);
    EngineConfig d = ServerConfig.defaults().engine();
    EngineConfig config =
        ServerConfig.builder()
            .modelDir(Optional.of(model))
            .devices("cuda:0")
            .kvBlocks(0)
            .build()
            .engine();
    long t0 = System.nanoTime();
    Engine engine = Engine.start(config, Metrics.noop(), REAL);
    try {
      long loaded = System.nanoTime();
      KvPool p = engine.kvPool();
      assertThat(p.sizing()).isEqualTo(KvPool.Sizing.DEVICE);
      assertThat(p.bytes())
          .isLessThanOrEqualTo((long) (p.deviceFreeBytes() * p.gpuMemoryFraction()));
      assertThat(p.blocks())
          .as("more than the 1 GiB CPU budget")
          .isGreaterThan(
              KvPoolSizer.cpuBudget(d.maxRunningSequences(), p.blockSize(), p.bytesPerToken())
                  .blocks());
      engine.warmUp().get(2, TimeUnit.MINUTES);
      System.out.printf(
          Locale.ROOT,
          "GPU-CHECK small_load_s=%.2f small_first_answer_s=%.2f kv_pool_tokens=%d"
              + " kv_pool_gib=%.2f activation_headroom_mib=%.0f%n",
          (loaded - t0) / 1e9,
          (System.nanoTime() - loaded) / 1e9,
          p.tokens(),
          p.bytes() / (double) (1L << 30),
          p.activationHeadroomBytes() / (double) (1L << 20));
    } finally {
      engine.shutdown(Duration.ZERO);
      engine.close();
    }
  }

  /** A listed GPU that is not there fails with the variable to set, on the real report too. */
  @Test
  void aMissingOrdinalFailsFast() {
    int n = REAL.gpuCount();
    try {
      DeviceCheck.require(DeviceSpec.parse("cuda:" + n), 0, REAL, Map.of());
      throw new AssertionError("cuda:" + n + " passed the check with " + n + " GPUs");
    } catch (DeviceUnavailableException e) {
      assertThat(e.getMessage()).contains("cuda:" + n + " does not exist");
    }
  }
}

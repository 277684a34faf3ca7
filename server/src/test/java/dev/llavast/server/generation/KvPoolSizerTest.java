package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import dev.llavast.api.v1.KvPoolSizing;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.generation.DeviceReport.DeviceMemory;
import dev.llavast.server.grpc.EngineBackend;
import dev.llavast.server.observability.Metrics;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The KV pool's size: the arithmetic against hand-computed numbers, the warm-up plan's shape, and a
 * real engine on CPU whose device memory comes from a fixed report (the seam the GPU's {@code
 * cudaMemGetInfo} fills in production): the warm-up step really runs, the pool really is allocated
 * at the computed size and the engine then answers.
 */
class KvPoolSizerTest {
  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;

  /**
   * The tiny preset's KV bytes per token, by hand: 2 (K, V) x 2 layers x 2 KV heads x head dim 64/4
   * = 16 x 4 bytes (float32).
   */
  private static final long TINY_BYTES_PER_TOKEN = 2L * 2 * 2 * 16 * 4;

  @Test
  void freeTimesFractionMinusHeadroomInWholeBlocks() {
    // 7B-shaped numbers: Qwen2-7B fp16 KV is 2 x 28 layers x 4 heads x 128 x 2 B = 57,344 B/token.
    long perToken = 2L * 28 * 4 * 128 * 2;
    DeviceMemory h200 = new DeviceMemory(124 * GIB, 141 * GIB);
    KvPool p = KvPoolSizer.fromDevice("cuda:0", h200, 3 * GIB, 0.9, 16, perToken);
    long budget = (long) Math.floor(124 * GIB * 0.9) - 3 * GIB; // 116,608,362,086 B
    assertThat(p.blocks()).isEqualTo((int) (budget / (perToken * 16))).isEqualTo(127_093);
    assertThat(p.tokens()).isEqualTo(127_093L * 16);
    assertThat(p.bytes()).isLessThanOrEqualTo(budget).isGreaterThan(budget - perToken * 16);
    assertThat(p.sizing()).isEqualTo(KvPool.Sizing.DEVICE);
    assertThat(p.deviceFreeBytes()).isEqualTo(124 * GIB);
    assertThat(p.deviceTotalBytes()).isEqualTo(141 * GIB);
    assertThat(p.activationHeadroomBytes()).isEqualTo(3 * GIB);
    assertThat(p.describe()).contains("from the device").contains("x 0.9");
    // The CPU budget this replaces held 1 GiB / 57,344 B = 18,724 tokens.
    assertThat(KvPoolSizer.cpuBudget(64, 16, perToken).tokens()).isEqualTo(18_720);
  }

  @Test
  void aDeviceWithNoRoomForOneBlockFailsWithItsNumbers() {
    assertThatThrownBy(
            () ->
                KvPoolSizer.fromDevice(
                    "cuda:0", new DeviceMemory(2 * GIB, 40 * GIB), 2 * GIB, 0.9, 16, 57_344))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("cuda:0 has room for no KV block")
        .hasMessageContaining(String.valueOf(2 * GIB))
        .hasMessageContaining("--gpu-memory-fraction");
  }

  @Test
  void headroomIsWhatTheStepTookBeyondItsOwnBlocksAndNeverNegative() {
    assertThat(KvPoolSizer.activationHeadroom(10 * GIB, 7 * GIB, GIB)).isEqualTo(2 * GIB);
    assertThat(KvPoolSizer.activationHeadroom(10 * GIB, 10 * GIB - MIB, GIB)).isZero();
  }

  @Test
  void theCpuBudgetIsTodaysRule() {
    // 64 sequences x 4,096 tokens = 262,144 tokens, but 1 GiB / 512 B = 2,097,152: the former wins.
    KvPool p = KvPoolSizer.cpuBudget(64, 16, TINY_BYTES_PER_TOKEN);
    assertThat(p.blocks()).isEqualTo(262_144 / 16);
    assertThat(p.sizing()).isEqualTo(KvPool.Sizing.CPU_BUDGET);
  }

  @Test
  void theWarmUpPlanIsTheLargestStep() {
    KvPoolSizer.WarmUp w = KvPoolSizer.warmUpPlan(2048, 64, 32768, 16, 151_646);
    List<SequenceStep> s = w.plan().sequences();
    assertThat(w.plan().tokenCount()).isEqualTo(2048);
    assertThat(s).hasSize(64).allMatch(SequenceStep::sample);
    SequenceStep longest = s.get(0);
    assertThat(longest.tokenIds()).hasSize(2048 - 63);
    assertThat(longest.startPosition() + longest.tokenIds().length)
        .as("ends at the context limit")
        .isEqualTo(32768);
    assertThat(longest.blockTable()).hasSize(32768 / 16);
    assertThat(w.blocks()).isEqualTo(2048 + 63);
    List<Integer> all = new ArrayList<>();
    for (SequenceStep q : s) {
      for (int b : q.blockTable()) {
        all.add(b);
      }
      for (int id : q.tokenIds()) {
        assertThat(id).isBetween(0, 255);
      }
    }
    assertThat(all).doesNotHaveDuplicates().hasSize(w.blocks()).allMatch(b -> b < w.blocks());
    // Fewer tokens than rows: one token each.
    assertThat(KvPoolSizer.warmUpPlan(8, 64, 100, 16, 50).plan().sequences()).hasSize(8);
  }

  /** Readings handed out in order, the last one repeated: a device whose memory we script. */
  private static final class ScriptedMemory implements DeviceReport {
    private final Deque<DeviceMemory> readings;
    private final List<Device> asked = new ArrayList<>();

    ScriptedMemory(DeviceMemory... readings) {
      this.readings = new ArrayDeque<>(List.of(readings));
    }

    @Override
    public String library() {
      return "scripted";
    }

    @Override
    public boolean cudaBuild() {
      return false;
    }

    @Override
    public int gpuCount() {
      return 0;
    }

    @Override
    public synchronized Optional<DeviceMemory> memory(Device device) {
      asked.add(device);
      return Optional.of(readings.size() > 1 ? readings.poll() : readings.peek());
    }
  }

  private static EngineConfig config(Path model, int kvBlocks, double fraction) {
    return ServerConfig.builder()
        .modelDir(Optional.of(model))
        .devices("cpu")
        .kvBlocks(kvBlocks)
        .kvBlockSize(16)
        .maxBatchTokens(48) // a small warm-up on 2 cores
        .maxRunningSequences(8)
        .gpuMemoryFraction(fraction)
        .build()
        .engine();
  }

  @Test
  void anEngineSizesItsPoolFromTheReportedMemoryAndThenAnswers(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("ckpt");
    TinyCheckpoints.write(model, TinyCheckpoints.Preset.TINY, 7);
    int maxContext;
    try (dev.llavast.models.LlavaSt m = dev.llavast.models.LlavaSt.open(model)) {
      maxContext = m.config().maxPositionEmbeddings();
    }
    // The warm-up pool, by hand: the long sequence's blocks up to the context limit, one block for
    // each of the other 7 rows (max running 8, max batch tokens 48).
    long warmUpBlocks = (maxContext + 15) / 16 + 7;
    long warmUpBytes = warmUpBlocks * 16 * TINY_BYTES_PER_TOKEN;
    long free = 64 * MIB + warmUpBytes;
    long headroom = 3 * MIB;
    ScriptedMemory report =
        new ScriptedMemory(
            new DeviceMemory(free, 4 * GIB),
            new DeviceMemory(free - warmUpBytes - headroom, 4 * GIB));
    Engine engine = Engine.start(config(model, 0, 0.5), Metrics.noop(), report);
    try {
      long expectedBlocks =
          ((long) Math.floor(free * 0.5) - headroom) / (16 * TINY_BYTES_PER_TOKEN);
      KvPool p = engine.kvPool();
      assertThat(report.asked).containsExactly(Device.cpu(), Device.cpu());
      assertThat(p.sizing()).isEqualTo(KvPool.Sizing.DEVICE);
      assertThat(p.activationHeadroomBytes()).isEqualTo(headroom);
      assertThat(p.bytesPerToken()).isEqualTo(TINY_BYTES_PER_TOKEN);
      assertThat(p.blocks()).isEqualTo((int) expectedBlocks);
      assertThat(engine.stats().workers().get(0).totalBlocks()).isEqualTo((int) expectedBlocks);

      ModelInfo info = new EngineBackend(engine, ServerConfig.defaults()).modelInfo().orElseThrow();
      assertThat(info.getKvPool().getSizing()).isEqualTo(KvPoolSizing.KV_POOL_SIZING_DEVICE);
      assertThat(info.getKvPool().getBlocks()).isEqualTo(expectedBlocks);
      assertThat(info.getKvPool().getTokens()).isEqualTo(expectedBlocks * 16);
      assertThat(info.getKvPool().getDeviceFreeBytes()).isEqualTo(free);
      assertThat(info.getKvPool().getActivationHeadroomBytes()).isEqualTo(headroom);
      assertThat(info.getKvPool().getGpuMemoryFraction()).isEqualTo(0.5);

      engine.warmUp().get(120, TimeUnit.SECONDS); // a real one-token generation on the new pool
    } finally {
      engine.shutdown(java.time.Duration.ZERO);
      engine.close();
    }
  }

  @Test
  void anExplicitBlockCountWinsWithoutAWarmUp(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("ckpt");
    TinyCheckpoints.write(model, TinyCheckpoints.Preset.TINY, 7);
    ScriptedMemory report = new ScriptedMemory(new DeviceMemory(GIB, 4 * GIB));
    Engine engine = Engine.start(config(model, 96, 0.9), Metrics.noop(), report);
    try {
      assertThat(report.asked).as("no device reading, no warm-up").isEmpty();
      assertThat(engine.kvPool().sizing()).isEqualTo(KvPool.Sizing.FLAG);
      assertThat(engine.kvPool().blocks()).isEqualTo(96);
      ModelInfo info = new EngineBackend(engine, ServerConfig.defaults()).modelInfo().orElseThrow();
      assertThat(info.getKvPool().getSizing()).isEqualTo(KvPoolSizing.KV_POOL_SIZING_FLAG);
      assertThat(info.getKvPool().getDeviceFreeBytes()).isZero();
    } finally {
      engine.shutdown(java.time.Duration.ZERO);
      engine.close();
    }
  }
}

package dev.llavast.server.generation;

import ai.djl.Device;
import dev.llavast.scheduler.ModelExecutor;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.server.generation.DeviceReport.DeviceMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Chooses the KV pool's block count per worker once the weights are loaded.
 *
 * <ol>
 *   <li>An explicit {@code --kv-blocks N} wins.
 *   <li>A device that reports its memory (a GPU): each worker runs one warm-up step at the maximum
 *       batch ({@link #warmUpPlan}); the activation headroom is the memory that step took beyond
 *       its own KV blocks (libtorch's caching allocator keeps its peak reserved, so the device's
 *       free memory after the step shows it). The pool is {@code free x fraction - headroom}, free
 *       read after the weights and before the warm-up; the smallest worker's count is everyone's.
 *   <li>Otherwise (CPU) {@link Engine#CPU_KV_BUDGET_BYTES}, and no more than the running limit
 *       times {@link Engine#DEFAULT_TOKENS_PER_SEQUENCE} tokens.
 * </ol>
 *
 * <p>Main thread, before the scheduler's workers start (they take the executors over after it).
 */
final class KvPoolSizer {
  /** Warm-up ids are drawn below this (and below V): byte-level text tokens. */
  private static final int WARM_UP_ID_RANGE = 256;

  private KvPoolSizer() {}

  /** The pool for {@code config}: see the class comment for the order of rules. */
  static KvPool size(
      List<? extends ModelExecutor> executors,
      List<Device> devices,
      EngineConfig config,
      DeviceReport report,
      int vocabSize) {
    long perToken = executors.get(0).spec().kvBytesPerToken();
    int bs = config.kvBlockSize();
    if (config.kvBlocks() > 0) {
      return new KvPool(KvPool.Sizing.FLAG, config.kvBlocks(), bs, perToken, -1, -1, 0, 0);
    }
    List<DeviceMemory> before = new ArrayList<>();
    for (Device d : devices) {
      Optional<DeviceMemory> m = report.memory(d);
      if (m.isEmpty()) {
        return cpuBudget(config.maxRunningSequences(), bs, perToken);
      }
      before.add(m.get());
    }
    @Nullable KvPool smallest = null;
    for (int i = 0; i < executors.size(); i++) {
      ModelExecutor ex = executors.get(i);
      String name = ex.spec().deviceName();
      WarmUp w =
          warmUpPlan(
              config.maxBatchTokens(),
              config.maxRunningSequences(),
              ex.spec().maxContextTokens(),
              bs,
              vocabSize);
      try {
        ex.allocateKvCache(w.blocks(), bs);
        ex.step(w.plan());
      } catch (RuntimeException e) {
        throw new DeviceUnavailableException(
            "the warm-up step at the maximum batch ("
                + w.plan().tokenCount()
                + " tokens in "
                + w.plan().sequences().size()
                + " sequences, one ending at position "
                + ex.spec().maxContextTokens()
                + ") failed on "
                + name
                + ": "
                + e.getMessage()
                + ". Lower --max-batch-tokens or --max-running-sequences, or use a larger device.");
      }
      DeviceMemory after = report.memory(devices.get(i)).orElse(before.get(i));
      long headroom =
          activationHeadroom(
              before.get(i).freeBytes(), after.freeBytes(), (long) w.blocks() * bs * perToken);
      KvPool p =
          fromDevice(name, before.get(i), headroom, config.gpuMemoryFraction(), bs, perToken);
      if (smallest == null || p.blocks() < smallest.blocks()) {
        smallest = p;
      }
    }
    if (smallest == null) {
      throw new IllegalArgumentException("no executors to size a KV pool for");
    }
    return smallest;
  }

  /** Today's CPU rule: the running limit's worth of default-length sequences, within the budget. */
  static KvPool cpuBudget(int maxRunningSequences, int blockSize, long perToken) {
    long tokens =
        Math.min(
            (long) maxRunningSequences * Engine.DEFAULT_TOKENS_PER_SEQUENCE,
            Engine.CPU_KV_BUDGET_BYTES / perToken);
    int blocks = (int) Math.max(1, Math.min(Integer.MAX_VALUE, tokens / blockSize));
    return new KvPool(KvPool.Sizing.CPU_BUDGET, blocks, blockSize, perToken, -1, -1, 0, 0);
  }

  /**
   * {@code free x fraction - headroom}, in whole blocks.
   *
   * @throws DeviceUnavailableException if not one block fits, with the numbers
   */
  static KvPool fromDevice(
      String device,
      DeviceMemory afterWeights,
      long headroom,
      double fraction,
      int blockSize,
      long perToken) {
    long budget = (long) Math.floor(afterWeights.freeBytes() * fraction) - headroom;
    long perBlock = perToken * blockSize;
    long blocks = budget <= 0 ? 0 : budget / perBlock;
    if (blocks <= 0) {
      throw new DeviceUnavailableException(
          device
              + " has room for no KV block: "
              + afterWeights.freeBytes()
              + " bytes free after the weights x --gpu-memory-fraction "
              + fraction
              + " - "
              + headroom
              + " bytes of activation headroom = "
              + budget
              + " bytes, and one block takes "
              + perBlock
              + ". Raise --gpu-memory-fraction, lower --max-batch-tokens or"
              + " --max-running-sequences, or use a larger device.");
    }
    return new KvPool(
        KvPool.Sizing.DEVICE,
        (int) Math.min(Integer.MAX_VALUE, blocks),
        blockSize,
        perToken,
        afterWeights.freeBytes(),
        afterWeights.totalBytes(),
        headroom,
        fraction);
  }

  /** What the warm-up step took beyond its own KV blocks (never negative). */
  static long activationHeadroom(long freeBefore, long freeAfter, long warmUpPoolBytes) {
    return Math.max(0, freeBefore - freeAfter - warmUpPoolBytes);
  }

  /**
   * One warm-up step and the KV blocks it needs.
   *
   * @param plan the step
   * @param blocks KV blocks the plan's block tables name (ids 0..blocks-1)
   */
  record WarmUp(StepPlan plan, int blocks) {}

  /**
   * The largest step the scheduler can issue: {@code maxBatchTokens} positions in {@code
   * min(maxRunningSequences, maxBatchTokens)} sampled rows. One sequence is a prefill chunk that
   * ends at the context limit, so its attention spans the longest context; the others are one-token
   * runs. Every row samples, so the logits are as large as they get.
   */
  static WarmUp warmUpPlan(
      int maxBatchTokens,
      int maxRunningSequences,
      int maxContextTokens,
      int blockSize,
      int vocabSize) {
    int idRange = Math.min(WARM_UP_ID_RANGE, vocabSize);
    int rows = Math.max(1, Math.min(maxRunningSequences, maxBatchTokens));
    int chunk = Math.min(maxContextTokens, maxBatchTokens - (rows - 1));
    SamplingParams greedy = SamplingParams.greedy(1);
    List<SequenceStep> steps = new ArrayList<>();
    int next = 0;

    int[] longPrompt = ids(maxContextTokens, idRange);
    int start = maxContextTokens - chunk;
    int longBlocks = ceilDiv(maxContextTokens, blockSize);
    steps.add(
        new SequenceStep(
            0,
            PromptInput.ofTokens(longPrompt),
            java.util.Arrays.copyOfRange(longPrompt, start, maxContextTokens),
            start,
            range(next, longBlocks),
            true,
            greedy,
            new int[0]));
    next += longBlocks;
    for (int r = 1; r < rows; r++) {
      int[] one = {r % idRange};
      steps.add(
          new SequenceStep(
              r, PromptInput.ofTokens(one), one, 0, range(next, 1), true, greedy, new int[0]));
      next++;
    }
    return new WarmUp(new StepPlan(blockSize, steps), next);
  }

  private static int[] ids(int n, int range) {
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i % range;
    }
    return ids;
  }

  private static int[] range(int from, int n) {
    int[] r = new int[n];
    for (int i = 0; i < n; i++) {
      r[i] = from + i;
    }
    return r;
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}

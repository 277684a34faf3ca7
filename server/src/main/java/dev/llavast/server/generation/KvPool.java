package dev.llavast.server.generation;

/**
 * The KV pool every worker got, and how its size was chosen. Immutable; any thread.
 *
 * @param sizing where the block count came from
 * @param blocks KV blocks per worker
 * @param blockSize token slots per block
 * @param bytesPerToken KV bytes one token occupies across all layers (K and V)
 * @param deviceFreeBytes {@link Sizing#DEVICE}: the smallest free memory of a worker's device after
 *     its weights loaded; else -1
 * @param deviceTotalBytes {@link Sizing#DEVICE}: that device's total memory; else -1
 * @param activationHeadroomBytes {@link Sizing#DEVICE}: memory the warm-up step at the maximum
 *     batch took beyond its own KV blocks, kept free for activations; else 0
 * @param gpuMemoryFraction {@link Sizing#DEVICE}: the share of free memory the pool and the
 *     activations may use ({@code --gpu-memory-fraction}); else 0
 */
public record KvPool(
    Sizing sizing,
    int blocks,
    int blockSize,
    long bytesPerToken,
    long deviceFreeBytes,
    long deviceTotalBytes,
    long activationHeadroomBytes,
    double gpuMemoryFraction) {

  /** Where the block count came from. */
  public enum Sizing {
    /** {@code --kv-blocks N}: an explicit count always wins. */
    FLAG,
    /**
     * Free device memory x {@code --gpu-memory-fraction} minus the measured activation headroom.
     */
    DEVICE,
    /** A device that reports no memory (CPU): {@link Engine#CPU_KV_BUDGET_BYTES} at most. */
    CPU_BUDGET
  }

  public KvPool {
    if (blocks <= 0 || blockSize <= 0 || bytesPerToken <= 0) {
      throw new IllegalArgumentException(
          "a KV pool needs blocks, block size and bytes per token > 0, got "
              + blocks
              + ", "
              + blockSize
              + ", "
              + bytesPerToken);
    }
  }

  /** Token slots per worker. */
  public long tokens() {
    return (long) blocks * blockSize;
  }

  /** Device bytes of the pool per worker. */
  public long bytes() {
    return tokens() * bytesPerToken;
  }

  /** One line for the log. */
  public String describe() {
    String base =
        blocks
            + " blocks of "
            + blockSize
            + " tokens ("
            + tokens()
            + " tokens, "
            + mib(bytes())
            + ") per worker";
    return switch (sizing) {
      case FLAG -> base + ", from --kv-blocks";
      case CPU_BUDGET -> base + ", within the CPU budget of " + mib(Engine.CPU_KV_BUDGET_BYTES);
      case DEVICE ->
          base
              + ", from the device: free "
              + mib(deviceFreeBytes)
              + " of "
              + mib(deviceTotalBytes)
              + " after the weights x "
              + gpuMemoryFraction
              + " minus "
              + mib(activationHeadroomBytes)
              + " activation headroom (warm-up step at the maximum batch)";
    };
  }

  private static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }
}

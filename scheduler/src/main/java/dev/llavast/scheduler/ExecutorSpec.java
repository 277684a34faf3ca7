package dev.llavast.scheduler;

/**
 * Static facts the scheduler needs from a model executor.
 *
 * @param deviceName human-readable device, e.g. {@code cpu:0} or {@code cuda:1}
 * @param maxContextTokens the longest sequence (prompt + generated) the model accepts
 * @param kvBytesPerToken KV-cache bytes one token occupies across all layers (K and V)
 * @param freeMemoryBytes device memory available for the KV pool after weights were loaded, or
 *     {@code -1} if the device cannot tell (then the pool is sized by a configured block count)
 */
public record ExecutorSpec(
    String deviceName, int maxContextTokens, long kvBytesPerToken, long freeMemoryBytes) {
  public ExecutorSpec {
    if (maxContextTokens <= 0) {
      throw new IllegalArgumentException("maxContextTokens must be > 0, got " + maxContextTokens);
    }
    if (kvBytesPerToken <= 0) {
      throw new IllegalArgumentException("kvBytesPerToken must be > 0, got " + kvBytesPerToken);
    }
  }
}

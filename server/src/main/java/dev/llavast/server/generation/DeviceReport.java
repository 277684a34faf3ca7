package dev.llavast.server.generation;

import ai.djl.Device;
import java.util.Optional;

/**
 * What the tensor engine reports about this machine: which libtorch it loaded, whether that build
 * has CUDA, how many GPUs it sees, and each GPU's free and total memory. It is the seam between the
 * start-up decisions ({@link DeviceCheck}, the KV pool size in {@link KvPoolSizer}) and DJL:
 * production uses {@link #djl()}; tests pass a fixed report to decide what those decisions do on a
 * machine they do not have.
 *
 * <p>Implementations are thread-safe; {@link #memory} reads the device each time it is called.
 */
public interface DeviceReport {

  /**
   * The loaded libtorch in words for error messages, e.g. {@code PyTorch 2.7.1 from
   * /opt/libtorch/lib}, or why none could be loaded.
   */
  String library();

  /** Whether the loaded libtorch was built with CUDA; false when none could be loaded. */
  boolean cudaBuild();

  /** GPUs visible to this process (0 without CUDA). */
  int gpuCount();

  /**
   * Free and total memory of {@code device} now, or empty where the device cannot tell (a CPU, or a
   * GPU whose CUDA runtime cannot be queried).
   */
  Optional<DeviceMemory> memory(Device device);

  /**
   * One reading of a device's memory.
   *
   * @param freeBytes bytes the device can still allocate (CUDA's {@code cudaMemGetInfo} free)
   * @param totalBytes the device's memory
   */
  record DeviceMemory(long freeBytes, long totalBytes) {
    public DeviceMemory {
      if (freeBytes < 0 || totalBytes <= 0 || freeBytes > totalBytes) {
        throw new IllegalArgumentException(
            "device memory needs 0 <= free <= total and total > 0, got free "
                + freeBytes
                + ", total "
                + totalBytes);
      }
    }
  }

  /**
   * The report of DJL's PyTorch engine: the libtorch it loaded (PYTORCH_LIBRARY_PATH, or the CPU
   * build bundled in the jar), its CUDA capability and {@code CudaUtils}' device count and memory.
   * Loads the engine on first use, not here.
   */
  static DeviceReport djl() {
    return new DjlDeviceReport();
  }
}

package dev.llavast.server.generation;

import ai.djl.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The start-up check for {@code --devices cuda:...}: the loaded libtorch has CUDA, every listed GPU
 * exists and, when the KV pool is to be sized from the device, its memory can be read. Run before
 * the weights load, so a misconfigured pod fails in seconds with a message that names what to set
 * instead of at the first weight copy. A CPU device list passes without asking the engine anything.
 * Main thread.
 */
public final class DeviceCheck {
  /** The variables DJL reads to load a CUDA libtorch, as k8s/Dockerfile.cuda sets them. */
  static final String LIBRARY_PATH = "PYTORCH_LIBRARY_PATH";

  static final String VERSION = "PYTORCH_VERSION";
  static final String FLAVOR = "PYTORCH_FLAVOR";

  private DeviceCheck() {}

  /**
   * Checks {@code spec} against {@code report}.
   *
   * @param kvBlocks the configured {@code --kv-blocks}; 0 sizes the pool from device memory, which
   *     then must be readable
   * @param env the process environment (named in the messages: what is set, what is missing)
   * @throws DeviceUnavailableException saying what is wrong and which variable or flag to set
   */
  public static void require(
      DeviceSpec spec, int kvBlocks, DeviceReport report, Map<String, String> env) {
    if (!spec.gpu()) {
      return;
    }
    String asked = "--devices " + String.join(",", spec.names());
    if (!report.cudaBuild()) {
      throw new DeviceUnavailableException(
          asked + " needs a CUDA build of libtorch, but " + noCuda(report, env));
    }
    int count = report.gpuCount();
    List<String> missing = new ArrayList<>();
    for (int ordinal : spec.ordinals()) {
      if (ordinal >= count) {
        missing.add("cuda:" + ordinal);
      }
    }
    if (count == 0) {
      throw new DeviceUnavailableException(
          asked
              + ": libtorch has CUDA ("
              + report.library()
              + ") but this process sees no GPU. In Kubernetes request nvidia.com/gpu in the pod's"
              + " resources and run on a GPU node; in Docker pass --gpus; keep"
              + " NVIDIA_DRIVER_CAPABILITIES=compute,utility and do not empty CUDA_VISIBLE_DEVICES.");
    }
    if (!missing.isEmpty()) {
      throw new DeviceUnavailableException(
          asked
              + ": "
              + String.join(", ", missing)
              + (missing.size() == 1 ? " does" : " do")
              + " not exist; this process sees "
              + count
              + " GPU"
              + (count == 1 ? "" : "s")
              + " (cuda:0"
              + (count > 1 ? "..cuda:" + (count - 1) : "")
              + "). List only those in --devices, or make more visible (CUDA_VISIBLE_DEVICES,"
              + " the pod's nvidia.com/gpu request).");
    }
    if (kvBlocks == 0) {
      for (int ordinal : spec.ordinals()) {
        if (report.memory(Device.gpu(ordinal)).isEmpty()) {
          throw new DeviceUnavailableException(
              asked
                  + ": the free memory of cuda:"
                  + ordinal
                  + " cannot be read (DJL finds the CUDA runtime, libcudart.so, through JNA: add"
                  + " its directory, e.g. /usr/local/cuda/lib64, to LD_LIBRARY_PATH), so the KV"
                  + " pool cannot be sized from it. Fix that, or set --kv-blocks explicitly.");
        }
      }
    }
  }

  /** Why the loaded library has no CUDA, and what to set. */
  private static String noCuda(DeviceReport report, Map<String, String> env) {
    String lib = report.library();
    String path = env.get(LIBRARY_PATH);
    String flavor = env.get(FLAVOR);
    String fix =
        " Set "
            + LIBRARY_PATH
            + " to the lib directory of the official libtorch 2.7.1+cu128, "
            + VERSION
            + "=2.7.1 and "
            + FLAVOR
            + "=cu128, and run the jar built with -Pcuda (k8s/Dockerfile.cuda does all of this).";
    if (path == null || path.isBlank()) {
      return "CUDA is not available ("
          + lib
          + "): "
          + LIBRARY_PATH
          + " is not set, so DJL takes the CPU libtorch bundled in the jar (the -Pcuda jar has"
          + " none)."
          + fix;
    }
    if (flavor == null || flavor.isBlank()) {
      return "CUDA is not available ("
          + lib
          + "): "
          + LIBRARY_PATH
          + "="
          + path
          + " but "
          + FLAVOR
          + " is not set, so DJL derives a flavor (cu<version>-precxx11) whose JNI library the jar"
          + " lacks. Set "
          + FLAVOR
          + "=cu128.";
    }
    return "CUDA is not available ("
        + lib
        + ") with "
        + LIBRARY_PATH
        + "="
        + path
        + " and "
        + FLAVOR
        + "="
        + flavor
        + ": that directory must hold a CUDA build's libtorch.so (libtorch_cuda.so beside it)."
        + fix;
  }
}

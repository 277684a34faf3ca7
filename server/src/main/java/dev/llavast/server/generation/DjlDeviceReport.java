package dev.llavast.server.generation;

import ai.djl.Device;
import ai.djl.engine.StandardCapabilities;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.cuda.CudaUtils;
import java.lang.management.MemoryUsage;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * {@link DeviceReport} from DJL's PyTorch engine.
 *
 * <p>How DJL 0.36 picks its libtorch (read in {@code ai.djl.pytorch.jni.LibUtils}): if {@code
 * PYTORCH_LIBRARY_PATH} names a directory holding {@code libtorch.so}, that one, with the version
 * from {@code PYTORCH_VERSION} and the flavor from {@code PYTORCH_FLAVOR} (unset, it derives {@code
 * cu<cudart version>-precxx11}, a flavor the pytorch-jni jar lacks); the JNI glue then comes from
 * {@code jnilib/<os-arch>/<flavor>/libdjl_torch.so} in the pytorch-jni jar. Otherwise the CPU build
 * bundled in the jar (pytorch-native-cpu), or, without it, a download, which {@code DJL_OFFLINE}
 * forbids. So a GPU node without those variables silently gets CPU libtorch; {@link #cudaBuild}
 * tells.
 *
 * <p>The device count and memory come from {@code CudaUtils}, which reads the CUDA runtime ({@code
 * libcudart}) through JNA; where JNA cannot find it, the count falls back to placing a one-element
 * tensor on each ordinal in turn, and memory is unknown. Thread-safe: the engine loads once.
 */
final class DjlDeviceReport implements DeviceReport {
  private static final int MAX_PROBED_GPUS = 64;

  private volatile @Nullable Loaded loaded;

  /** The engine, or why it could not be loaded. */
  private record Loaded(ai.djl.engine.@Nullable Engine engine, String description) {}

  private Loaded load() {
    Loaded l = loaded;
    if (l == null) {
      synchronized (this) {
        l = loaded;
        if (l == null) {
          l = tryLoad();
          loaded = l;
        }
      }
    }
    return l;
  }

  private static Loaded tryLoad() {
    try {
      ai.djl.engine.Engine e = ai.djl.engine.Engine.getEngine("PyTorch");
      return new Loaded(e, "PyTorch " + e.getVersion() + " from " + LibUtils.getLibtorchPath());
    } catch (RuntimeException | LinkageError e) {
      // EngineException, or an UnsatisfiedLinkError from a libtorch that does not fit the machine.
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      return new Loaded(
          null,
          "no libtorch could be loaded ("
              + e.getMessage()
              + (root == e ? "" : "; cause: " + root.getMessage())
              + ")");
    }
  }

  @Override
  public String library() {
    return load().description();
  }

  @Override
  public boolean cudaBuild() {
    ai.djl.engine.Engine e = load().engine();
    return e != null && e.hasCapability(StandardCapabilities.CUDA);
  }

  @Override
  public int gpuCount() {
    if (!cudaBuild()) {
      return 0;
    }
    int n = CudaUtils.getGpuCount();
    if (n > 0) {
      return n;
    }
    // libcudart not found by JNA (or it sees none): ask libtorch itself, one ordinal at a time.
    int probed = 0;
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      while (probed < MAX_PROBED_GPUS) {
        try {
          m.create(new float[] {0f}).toDevice(Device.gpu(probed), false); // [1]
        } catch (RuntimeException notThere) {
          break;
        }
        probed++;
      }
    }
    return probed;
  }

  @Override
  public Optional<DeviceMemory> memory(Device device) {
    if (!device.isGpu() || !cudaBuild() || CudaUtils.getGpuCount() <= device.getDeviceId()) {
      return Optional.empty();
    }
    MemoryUsage u = CudaUtils.getGpuMemory(device);
    // CudaUtils reports committed = total - free and max = total (cudaMemGetInfo).
    return Optional.of(new DeviceMemory(u.getMax() - u.getCommitted(), u.getMax()));
  }
}

package dev.llavast.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's fused {@code scaled_dot_product_attention}, reached through the TorchScript modules
 * {@link SdpaModuleWriter} writes (DJL has no binding for it). One module per (kind, device),
 * loaded on first use and kept for the life of the process in a manager of its own (a few hundred
 * bytes of native state each); a module that fails to load is remembered as absent, logged once,
 * and callers fall back to the composed attention.
 *
 * <p>Thread-safety: any thread; the modules are stateless and libtorch runs a loaded module's
 * forward from several threads at once. Results land in q's manager (DJL puts a module's outputs in
 * its first input's manager).
 */
final class FusedAttention {
  private static final Logger log = LoggerFactory.getLogger(FusedAttention.class);

  private record Key(SdpaModuleWriter.Kind kind, Device device) {}

  private static final Map<Key, Optional<PtSymbolBlock>> MODULES = new ConcurrentHashMap<>();

  private FusedAttention() {}

  /** The loaded module for {@code kind} on {@code device}, or null when it cannot be loaded. */
  static @Nullable PtSymbolBlock module(SdpaModuleWriter.Kind kind, Device device) {
    return MODULES.computeIfAbsent(new Key(kind, device), FusedAttention::load).orElse(null);
  }

  /**
   * {@code scaled_dot_product_attention(q, k, v, mask, scale=1)}; null when the module is absent.
   * Shapes as {@link Ops#attention}; the mask, when given, has q's dtype.
   */
  static @Nullable NDArray forward(NDArray q, NDArray k, NDArray v, @Nullable NDArray mask) {
    SdpaModuleWriter.Kind kind =
        mask == null ? SdpaModuleWriter.Kind.UNMASKED : SdpaModuleWriter.Kind.MASKED;
    PtSymbolBlock b = module(kind, q.getDevice());
    if (b == null) {
      return null;
    }
    NDList in = mask == null ? new NDList(q, k, v) : new NDList(q, k, v, mask);
    return b.forward(new ParameterStore(q.getManager(), false), in, false).singletonOrThrow();
  }

  /**
   * Runs the module once on the device: a parameter-free module loads even where its kernels cannot
   * run (a CUDA device id on a CPU-only libtorch), so loading alone proves nothing.
   */
  private static void probe(PtSymbolBlock b, Key key) {
    try (NDManager pm = NDManager.newBaseManager(key.device(), "PyTorch")) {
      NDArray x = pm.ones(new Shape(1, 1, 2, 4)); // [B, H, L, D]
      NDList in =
          key.kind() == SdpaModuleWriter.Kind.MASKED
              ? new NDList(x, x, x, pm.zeros(new Shape(1, 1, 1, 2))) // mask [B, 1, 1, L]
              : new NDList(x, x, x);
      NDArray out = b.forward(new ParameterStore(pm, false), in, false).singletonOrThrow();
      if (!out.getShape().equals(x.getShape())) {
        throw new IllegalStateException("probe returned shape " + out.getShape());
      }
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  private static String firstLine(Exception e) {
    String s = e.toString();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static Optional<PtSymbolBlock> load(Key key) {
    Path file = null;
    try {
      file = Files.createTempFile("llavast-sdpa-", ".pt");
      SdpaModuleWriter.write(key.kind(), file);
      NDManager owner = NDManager.newBaseManager(key.device(), "PyTorch"); // process lifetime
      try {
        PtSymbolBlock b =
            JniUtils.loadModule(
                (PtNDManager) owner, file, true, new String[0], new String[0], false);
        probe(b, key);
        log.info("fused attention ({}) loaded on {}", key.kind(), key.device());
        return Optional.of(b);
      } catch (RuntimeException e) {
        owner.close();
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      log.warn(
          "fused attention ({}) unavailable on {}, using the composed path: {}",
          key.kind(),
          key.device(),
          firstLine(e)); // libtorch's messages list every registered backend after line one
      return Optional.empty();
    } finally {
      if (file != null) {
        try {
          Files.deleteIfExists(file);
        } catch (IOException e) {
          log.debug("could not delete {}", file, e);
        }
      }
    }
  }
}

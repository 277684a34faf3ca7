package dev.llavast.models.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The archive {@link SdpaModuleWriter} writes loads in DJL's libtorch and its fused {@code
 * scaled_dot_product_attention} agrees with the composed {@link Ops#attention} to 1e-5 (fp32).
 */
class SdpaModuleTest {
  @TempDir Path dir;
  NDManager m;
  final SplittableRandom rng = new SplittableRandom(16);

  @BeforeEach
  void open() {
    m = NDManager.newBaseManager(Device.cpu(), "PyTorch");
  }

  @AfterEach
  void close() {
    m.close();
  }

  static PtSymbolBlock load(NDManager m, SdpaModuleWriter.Kind kind, Path file) throws Exception {
    SdpaModuleWriter.write(kind, file);
    return JniUtils.loadModule((PtNDManager) m, file, true, new String[0], new String[0], false);
  }

  NDArray rand(Shape s) {
    float[] a = new float[(int) s.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return m.create(a, s);
  }

  static NDArray fused(PtSymbolBlock b, NDManager m, NDArray... in) {
    return b.forward(new ParameterStore(m, false), new NDList(in), false).singletonOrThrow();
  }

  static float maxAbsDiff(NDArray a, NDArray b) {
    assertThat(a.getShape()).isEqualTo(b.getShape());
    return a.sub(b).abs().max().getFloat();
  }

  @Test
  void unmaskedMatchesComposedOnSiglipLikeHeads() throws Exception {
    try (PtSymbolBlock b = load(m, SdpaModuleWriter.Kind.UNMASKED, dir.resolve("u.pt"))) {
      NDArray q = rand(new Shape(2, 4, 29, 72)).mul(1 / Math.sqrt(72)); // [n, H, L, D] scaled
      NDArray k = rand(new Shape(2, 4, 29, 72)); // [n, H, L, D]
      NDArray v = rand(new Shape(2, 4, 29, 72)); // [n, H, L, D]
      NDArray want = Ops.attention(q, k, v, null, 1f, 1L << 10); // [n, H, L, D], tiled
      NDArray got = fused(b, m, q, k, v); // [n, H, L, D]
      assertThat(maxAbsDiff(got, want)).isLessThan(1e-5f);
    }
  }

  @Test
  void maskedMatchesComposedOnGroupedDecodeRowsAgainstPagedKeys() throws Exception {
    int s = 3;
    int hkv = 2;
    int g = 4;
    int lk = 37;
    int d = 16;
    try (PtSymbolBlock b = load(m, SdpaModuleWriter.Kind.MASKED, dir.resolve("m.pt"))) {
      NDArray q = rand(new Shape(s, hkv, g, d)).mul(0.25f); // [S, Hkv, G, D] one query, scaled
      // Keys as the pool lays them out, [S, L, Hkv, D], seen through a transposed view.
      NDArray k = rand(new Shape(s, lk, hkv, d)).transpose(0, 2, 1, 3); // [S, Hkv, L, D]
      NDArray v = rand(new Shape(s, lk, hkv, d)).transpose(0, 2, 1, 3); // [S, Hkv, L, D]
      float[] mask = new float[s * lk];
      int[] visible = {lk - 1, 20, 5};
      for (int i = 0; i < s; i++) {
        for (int j = 0; j < lk; j++) {
          mask[i * lk + j] = j <= visible[i] ? 0f : Float.NEGATIVE_INFINITY;
        }
      }
      NDArray mk = m.create(mask, new Shape(s, 1, 1, lk)); // [S, 1, 1, L]
      NDArray want = Ops.attention(q, k, v, mk, 1f); // [S, Hkv, G, D]
      NDArray got = fused(b, m, q, k, v, mk); // [S, Hkv, G, D]
      assertThat(maxAbsDiff(got, want)).isLessThan(1e-5f);
      // The mask matters: sequence 2 sees 6 keys, so its output differs from the unmasked one.
      NDArray open = fused(b, m, q, k, v, mk.zerosLike());
      assertThat(maxAbsDiff(open.get(2), got.get(2))).isGreaterThan(1e-3f);
    }
  }
}

package dev.llavast.models.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link Ops#attentionFused} against the composed {@link Ops#attention}, and its fallback. */
class FusedAttentionTest {
  NDManager m;
  final SplittableRandom rng = new SplittableRandom(61);

  @BeforeEach
  void open() {
    m = NDManager.newBaseManager(Device.cpu(), "PyTorch");
  }

  @AfterEach
  void close() {
    m.close();
  }

  NDArray rand(Shape s) {
    float[] a = new float[(int) s.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return m.create(a, s);
  }

  static float maxAbsDiff(NDArray a, NDArray b) {
    assertThat(a.getShape()).isEqualTo(b.getShape());
    return a.sub(b).abs().max().getFloat();
  }

  @Test
  void fusedRunsOnCpu() {
    assertThat(Ops.fusedAttentionAvailable(Device.cpu())).isTrue();
  }

  @Test
  void scaledMaskedFusedMatchesComposedOnPoolLayoutKeys() {
    int s = 2;
    int hkv = 3;
    int g = 2;
    int lq = 3;
    int lk = 41;
    int rows = lq * g; // query rows per KV head, (query, group head)
    int d = 32;
    NDArray q = rand(new Shape(s, hkv, rows, d)); // [S, Hkv, Qm*G, D] unscaled
    NDArray k = rand(new Shape(s, lk, hkv, d)).transpose(0, 2, 1, 3); // [S, Hkv, L, D] view
    NDArray v = rand(new Shape(s, lk, hkv, d)).transpose(0, 2, 1, 3); // [S, Hkv, L, D] view
    float[] mk = new float[s * lq * g * lk];
    for (int i = 0; i < s; i++) {
      for (int r = 0; r < lq * g; r++) {
        int visible = 30 + (r / g) - 9 * i; // causal within each sequence's last 3 keys
        for (int j = 0; j < lk; j++) {
          mk[(i * lq * g + r) * lk + j] = j <= visible ? 0f : Float.NEGATIVE_INFINITY;
        }
      }
    }
    NDArray mask = m.create(mk, new Shape(s, 1, rows, lk)); // [S, 1, Qm*G, L]
    float scale = (float) (1 / Math.sqrt(d));
    NDArray want = Ops.attention(q, k, v, mask, scale, 1L << 8); // [S, Hkv, Qm*G, D], tiled
    NDArray got = Ops.attentionFused(q, k, v, mask, scale); // [S, Hkv, Qm*G, D]
    assertThat(maxAbsDiff(got, want)).isLessThan(1e-5f);
    assertThat(got.getManager()).isSameAs(q.getManager());
  }

  @Test
  void unmaskedFusedMatchesComposedWithAMaskOfAnotherDtypeCastBeforeTheCall() {
    NDArray q = rand(new Shape(2, 4, 50, 24)); // [n, H, L, D]
    NDArray k = rand(new Shape(2, 4, 50, 24)); // [n, H, L, D]
    NDArray v = rand(new Shape(2, 4, 50, 24)); // [n, H, L, D]
    NDArray want = Ops.attention(q, k, v, null, 0.3f); // [n, H, L, D]
    assertThat(maxAbsDiff(Ops.attentionFused(q, k, v, null, 0.3f), want)).isLessThan(1e-5f);
    // An fp64 zero mask is cast to q's dtype (SDPA requires it) and changes nothing.
    NDArray zero = m.zeros(new Shape(2, 1, 1, 50), DataType.FLOAT64); // [n, 1, 1, L]
    assertThat(maxAbsDiff(Ops.attentionFused(q, k, v, zero, 0.3f), want)).isLessThan(1e-5f);
  }

  @Test
  void aDeviceWhereTheModuleCannotLoadIsReportedAbsent() {
    assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "a CUDA device is present");
    assertThat(FusedAttention.module(SdpaModuleWriter.Kind.MASKED, Device.gpu(0))).isNull();
    assertThat(Ops.fusedAttentionAvailable(Device.gpu(0))).isFalse();
  }
}

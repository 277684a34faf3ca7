package dev.llavast.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import org.jspecify.annotations.Nullable;

/**
 * The neural-network operations that DJL 0.36 does not ship fused, composed from basic ops.
 *
 * <p>Ownership: DJL puts the result of an op into the manager of its <em>first</em> input. Every
 * method here takes the activation as its first input, so results land in the activation's manager
 * (the caller's per-step manager), never in the weights' long-lived manager. Intermediate arrays
 * are closed before returning. Stateless; any thread that has the engine's grad mode off.
 */
public final class Ops {
  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

  private Ops() {}

  /**
   * {@code x · Wᵀ + b}; {@code x [..., in]}, {@code w [out, in]}, {@code b [out]} or null -> {@code
   * [..., out]}.
   */
  public static NDArray linear(NDArray x, NDArray w, @Nullable NDArray b) {
    NDList out = b == null ? Linear.linear(x, w) : Linear.linear(x, w, b);
    return out.singletonOrThrow();
  }

  /**
   * RMSNorm: {@code x / sqrt(mean(x², -1) + eps) · w}, computed in fp32 and cast back to x's dtype
   * (as HF Qwen2). {@code x [..., C]}, {@code w [C]} -> {@code [..., C]}.
   */
  public static NDArray rmsNorm(NDArray x, NDArray w, float eps) {
    DataType dt = x.getDataType();
    boolean up = dt != DataType.FLOAT32;
    NDArray x32 = up ? x.toType(DataType.FLOAT32, false) : x; // [..., C]
    try (NDArray sq = x32.square(); // [..., C]
        NDArray ms = sq.mean(new int[] {-1}, true); // [..., 1]
        NDArray msEps = ms.add(eps); // [..., 1]
        NDArray inv = msEps.pow(-0.5f)) { // [..., 1] one op for 1 / sqrt
      NDArray normed = x32.mul(inv); // [..., C]
      if (up) {
        NDArray cast = normed.toType(dt, false);
        normed.close();
        x32.close();
        normed = cast;
      }
      NDArray out = normed.mul(w); // [..., C]
      normed.close();
      return out;
    }
  }

  /**
   * LayerNorm over the last axis with affine weight and bias. {@code x [..., C]} -> {@code [...,
   * C]}.
   */
  public static NDArray layerNorm(NDArray x, NDArray w, NDArray b, float eps) {
    long c = x.getShape().get(x.getShape().dimension() - 1);
    return LayerNorm.layerNorm(x, new Shape(c), w, b, eps).singletonOrThrow();
  }

  /** Exact GELU, {@code x · Φ(x)} with the erf (PyTorch {@code nn.GELU()}). Same shape. */
  public static NDArray geluErf(NDArray x) {
    return Activation.gelu(x);
  }

  /**
   * Tanh-approximated GELU ({@code gelu_pytorch_tanh}): {@code 0.5x(1 + tanh(√(2/π)(x +
   * 0.044715x³)))}.
   */
  public static NDArray geluTanh(NDArray x) {
    // 0.5 (1 + tanh z) = sigmoid(2z), so gelu_tanh(x) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715
    // x^3)):
    // two temporaries updated in place instead of eight (the SigLIP MLP spent 4.5 s of a 100-frame
    // SMALL encode in the 8-op form, most of it allocating and faulting in [n, 729, I] arrays).
    try (NDArray z = x.mul(x)) { // [...] x^2
      z.muli(2 * SQRT_2_OVER_PI * 0.044715f).addi(2 * SQRT_2_OVER_PI).muli(x); // [...] 2z
      return Activation.sigmoid(z).muli(x); // [...]
    }
  }

  /** SiLU, {@code x · sigmoid(x)}. Same shape. */
  public static NDArray silu(NDArray x) {
    try (NDArray s = Activation.sigmoid(x)) {
      return x.mul(s);
    }
  }

  /**
   * Rotary position embedding, rotate-half (non-interleaved) form: {@code x·cos +
   * rotate_half(x)·sin}, {@code rotate_half([a, b]) = [-b, a]}.
   *
   * @param x {@code [N, H, D]}
   * @param cos {@code [N, 1, D]}
   * @param sin {@code [N, 1, D]}
   * @return {@code [N, H, D]}
   */
  public static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
    long d = x.getShape().get(2);
    long half = d / 2;
    try (NDArray x1 = x.get(":, :, :" + half); // [N, H, D/2]
        NDArray x2 = x.get(":, :, " + half + ":"); // [N, H, D/2]
        NDArray negX2 = x2.neg(); // [N, H, D/2]
        NDArray rot = NDArrays.concat(new NDList(negX2, x1), 2); // [N, H, D]
        NDArray a = x.mul(cos); // [N, H, D]
        NDArray b = rot.mul(sin)) { // [N, H, D]
      return a.add(b);
    }
  }

  /**
   * Rotary position embedding as {@link #rope} with the rotation's sign folded into the sine table,
   * one op fewer: {@code x·cos + [x₂, x₁]·sinSigned} with {@code sinSigned = [-sin, sin]} over the
   * two halves of D ({@link #ropeTables}' sine with its first half negated).
   *
   * @param x {@code [N, H, D]}
   * @param cos {@code [N, 1, D]}
   * @param sinSigned {@code [N, 1, D]}
   * @return {@code [N, H, D]}
   */
  public static NDArray ropeSigned(NDArray x, NDArray cos, NDArray sinSigned) {
    long d = x.getShape().get(2);
    long half = d / 2;
    try (NDArray x1 = x.get(":, :, :" + half); // [N, H, D/2]
        NDArray x2 = x.get(":, :, " + half + ":"); // [N, H, D/2]
        NDArray swapped = NDArrays.concat(new NDList(x2, x1), 2); // [N, H, D]
        NDArray a = x.mul(cos); // [N, H, D]
        NDArray b = swapped.mul(sinSigned)) { // [N, H, D]
      return a.add(b);
    }
  }

  /**
   * Host-side RoPE tables for the given positions, as HF computes them in fp32: {@code inv_freq[i]
   * = 1/θ^(2i/D)}, angle {@code = pos · inv_freq}, duplicated to D.
   *
   * @return {@code [cos, sin]}, each {@code N * D} floats laid out {@code [N, D]}
   */
  public static float[][] ropeTables(long[] positions, int headDim, double theta) {
    int half = headDim / 2;
    float[] inv = new float[half];
    for (int i = 0; i < half; i++) {
      inv[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
    }
    float[] cos = new float[positions.length * headDim];
    float[] sin = new float[positions.length * headDim];
    for (int n = 0; n < positions.length; n++) {
      float p = (float) positions[n];
      for (int i = 0; i < half; i++) {
        float angle = p * inv[i];
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[n * headDim + i] = c;
        cos[n * headDim + half + i] = c;
        sin[n * headDim + i] = s;
        sin[n * headDim + half + i] = s;
      }
    }
    return new float[][] {cos, sin};
  }

  /**
   * Most fp32 attention-score elements one tile may hold on {@code device}: 2^20 (4 MiB) on CPU,
   * where large temporaries are slow to allocate (a 10-frame SigLIP chunk made 85 MB score arrays,
   * each a fresh mapping to fault in); 2^26 on a GPU, where every extra tile costs kernel launches.
   */
  public static long scoreTileElements(Device device) {
    return device.isGpu() ? 1L << 26 : 1L << 20;
  }

  /**
   * Softmax attention: {@code softmax(q·kᵀ·scale + mask)·v}, softmax in fp32, tiled along the
   * queries so that no score tile exceeds {@link #scoreTileElements} (tiles change no number: each
   * query row's softmax is computed whole).
   *
   * @param q {@code [B, H, Lq, D]}
   * @param k {@code [B, H, Lk, D]}
   * @param v {@code [B, H, Lk, D]}
   * @param mask additive, broadcastable to {@code [B, H, Lq, Lk]}, or null
   * @return {@code [B, H, Lq, D]}, owned by q's manager
   */
  public static NDArray attention(
      NDArray q, NDArray k, NDArray v, @Nullable NDArray mask, float scale) {
    return attention(q, k, v, mask, scale, scoreTileElements(q.getDevice()));
  }

  /**
   * {@link #attention(NDArray, NDArray, NDArray, NDArray, float)} with score tiles of at most
   * {@code tileElements} fp32 elements (at least one query row per tile). A caller that knows its
   * shapes sizes tiles for the cache: scores that stay in L2 between the two matmuls and the
   * softmax are read from memory once. With {@code scale == 1} (a caller that folded the scale into
   * q) no scaling pass runs.
   */
  public static NDArray attention(
      NDArray q, NDArray k, NDArray v, @Nullable NDArray mask, float scale, long tileElements) {
    Shape qs = q.getShape();
    long lq = qs.get(2);
    long lk = k.getShape().get(2);
    long perTile = Math.max(1, Math.min(lq, tileElements / (qs.get(0) * qs.get(1) * lk)));
    boolean maskPerQuery = mask != null && mask.getShape().get(mask.getShape().dimension() - 2) > 1;
    try (NDArray kt = k.transpose(0, 1, 3, 2)) { // [B, H, D, Lk]
      if (perTile == lq) {
        return attentionTile(q, kt, v, mask, scale); // [B, H, Lq, D]
      }
      NDList tiles = new NDList();
      try {
        for (long from = 0; from < lq; from += perTile) {
          long to = Math.min(lq, from + perTile);
          try (NDArray qt = q.get(new NDIndex(":, :, {}:{}", from, to)); // [B, H, T, D]
              NDArray mt =
                  maskPerQuery && mask != null
                      ? mask.get(new NDIndex("..., {}:{}, :", from, to))
                      : null) {
            tiles.add(attentionTile(qt, kt, v, maskPerQuery ? mt : mask, scale)); // [B, H, T, D]
          }
        }
        return NDArrays.concat(tiles, 2); // [B, H, Lq, D]
      } finally {
        tiles.close();
      }
    }
  }

  /**
   * {@link #attention(NDArray, NDArray, NDArray, NDArray, float)} through libtorch's fused {@code
   * scaled_dot_product_attention} (a TorchScript module our own code writes, see {@link
   * SdpaModuleWriter}): no score array is materialized and strided k/v (the KV pool's transposed
   * views) are read in place. Falls back to the composed path when the module cannot be loaded on
   * q's device (logged once). Same shapes and ownership as the composed path; the mask is cast to
   * q's dtype when it differs.
   */
  public static NDArray attentionFused(
      NDArray q, NDArray k, NDArray v, @Nullable NDArray mask, float scale) {
    NDArray qs = scale == 1f ? q : q.mul(scale); // [B, H, Lq, D]
    NDArray mc =
        mask == null || mask.getDataType() == q.getDataType()
            ? mask
            : mask.toType(q.getDataType(), false); // broadcastable to [B, H, Lq, Lk]
    try {
      NDArray out = FusedAttention.forward(qs, k, v, mc); // [B, H, Lq, D]
      return out != null ? out : attention(q, k, v, mask, scale);
    } finally {
      if (qs != q) {
        qs.close();
      }
      if (mc != null && mc != mask) {
        mc.close();
      }
    }
  }

  /** Whether {@link #attentionFused} runs fused on {@code device} (loads the modules once). */
  public static boolean fusedAttentionAvailable(Device device) {
    return FusedAttention.module(SdpaModuleWriter.Kind.MASKED, device) != null
        && FusedAttention.module(SdpaModuleWriter.Kind.UNMASKED, device) != null;
  }

  /** {@code softmax(q·kt·scale + mask)·v} for one tile of queries; {@code kt [B, H, D, Lk]}. */
  private static NDArray attentionTile(
      NDArray q, NDArray kt, NDArray v, @Nullable NDArray mask, float scale) {
    try (NDArray raw = q.matMul(kt); // [B, H, T, Lk]
        NDArray scores = scale == 1f ? null : raw.mul(scale)) { // [B, H, T, Lk]
      NDArray probs = softmaxLastFp32(scores == null ? raw : scores, mask); // [B, H, T, Lk]
      NDArray out = probs.matMul(v); // [B, H, T, D]
      probs.close();
      return out;
    }
  }

  /**
   * Softmax over the last axis in fp32 after adding an optional mask; result in the input's dtype.
   */
  public static NDArray softmaxLastFp32(NDArray scores, @Nullable NDArray mask) {
    DataType dt = scores.getDataType();
    NDArray s32 = dt == DataType.FLOAT32 ? scores : scores.toType(DataType.FLOAT32, false);
    NDArray masked = mask == null ? s32 : s32.add(mask);
    NDArray p = masked.softmax(-1);
    if (masked != s32) {
      masked.close();
    }
    if (s32 != scores) {
      s32.close();
    }
    if (dt != DataType.FLOAT32) {
      NDArray c = p.toType(dt, false);
      p.close();
      return c;
    }
    return p;
  }

  /**
   * Moves {@code a} into {@code owner} (for results of ops whose first input is a long-lived
   * weight).
   */
  public static NDArray own(NDArray a, NDManager owner) {
    a.attach(owner);
    return a;
  }
}

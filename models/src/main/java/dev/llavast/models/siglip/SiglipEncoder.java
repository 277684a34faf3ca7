package dev.llavast.models.siglip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.llavast.models.CheckpointLayout;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.OpTimer;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;

/**
 * The SigLIP vision tower as the release uses it (spec §2): conv patch embedding (kernel = stride =
 * patch) flattened row-major, learned position embedding, then {@code
 * vision_config.num_hidden_layers} pre-LN layers {@code x += out(attn(LN1 x)); x +=
 * fc2(gelu_tanh(fc1(LN2 x)))} with biased q/k/v/out, full bidirectional attention, and <b>no</b>
 * post-LayerNorm. Weights owned by the loader's manager. Worker thread only.
 */
public final class SiglipEncoder {
  static final String PREFIX = CheckpointLayout.VISION_PREFIX;

  private final ModelConfig.VisionConfig vc;
  private final NDArray patchW; // [Cv, 3*P*P] (conv weight [Cv, 3, P, P] flattened)
  private final NDArray patchB; // [Cv]
  private final NDArray posEmb; // [G*G, Cv]
  private final Layer[] layers;

  private record Layer(
      NDArray ln1W,
      NDArray ln1B, // [Cv]
      NDArray wQkv,
      NDArray bQkv, // [3 Cv, Cv], [3 Cv]
      NDArray wOut,
      NDArray bOut, // [Cv, Cv], [Cv]
      NDArray ln2W,
      NDArray ln2B, // [Cv]
      NDArray fc1W,
      NDArray fc1B, // [I, Cv], [I]
      NDArray fc2W,
      NDArray fc2B) {} // [Cv, I], [Cv]

  private SiglipEncoder(
      ModelConfig.VisionConfig vc, NDArray patchW, NDArray patchB, NDArray posEmb, Layer[] layers) {
    this.vc = vc;
    this.patchW = patchW;
    this.patchB = patchB;
    this.posEmb = posEmb;
    this.layers = layers;
  }

  public static SiglipEncoder load(ModelConfig cfg, Weights w) {
    ModelConfig.VisionConfig vc = cfg.vision();
    long cv = vc.hiddenSize();
    long p = vc.patchSize();
    long im = vc.intermediateSize();
    NDArray conv =
        w.load(PREFIX + "embeddings.patch_embedding.weight", cv, 3, p, p); // [Cv, 3, P, P]
    // A reshape is a view: conv stays open (in the weights' manager), because a loaded array may be
    // backed by a Java direct buffer that closing would release under the view.
    NDArray patchW = conv.reshape(cv, 3 * p * p); // [Cv, 3*P*P]
    patchW.attach(w.manager());
    NDArray patchB = w.load(PREFIX + "embeddings.patch_embedding.bias", cv);
    NDArray pos = w.load(PREFIX + "embeddings.position_embedding.weight", vc.numPatches(), cv);
    float scale = (float) (1.0 / Math.sqrt(vc.headDim()));
    Layer[] layers = new Layer[vc.numHiddenLayers()];
    for (int i = 0; i < layers.length; i++) {
      String l = PREFIX + "encoder.layers." + i + ".";
      String a = l + "self_attn.";
      layers[i] =
          new Layer(
              w.load(l + "layer_norm1.weight", cv),
              w.load(l + "layer_norm1.bias", cv),
              qkvScaled(w, a, "weight", scale, cv, cv), // [3 Cv, Cv]
              qkvScaled(w, a, "bias", scale, cv), // [3 Cv]
              w.load(a + "out_proj.weight", cv, cv),
              w.load(a + "out_proj.bias", cv),
              w.load(l + "layer_norm2.weight", cv),
              w.load(l + "layer_norm2.bias", cv),
              w.load(l + "mlp.fc1.weight", im, cv),
              w.load(l + "mlp.fc1.bias", im),
              w.load(l + "mlp.fc2.weight", cv, im),
              w.load(l + "mlp.fc2.bias", cv));
    }
    return new SiglipEncoder(vc, patchW, patchB, pos, layers);
  }

  /**
   * q|k|v projection {@code kind} ("weight" {@code [Cv, Cv]} or "bias" {@code [Cv]}) concatenated
   * along axis 0, with q's part multiplied by the attention scale {@code 1/sqrt(D)}: softmax((x Wq
   * s + bq s) kᵀ) is the layer's softmax(q kᵀ s), so no scaling pass runs over the [L, L] scores.
   */
  private static NDArray qkvScaled(Weights w, String a, String kind, float scale, long... shape) {
    NDArray q = w.load(a + "q_proj." + kind, shape);
    NDArray qs = q.mul(scale); // in the weights' manager
    q.close();
    NDArray k = w.load(a + "k_proj." + kind, shape);
    NDArray v = w.load(a + "v_proj." + kind, shape);
    NDArray cat = NDArrays.concat(new NDList(qs, k, v), 0); // [3 Cv, ...]
    qs.close();
    k.close();
    v.close();
    cat.attach(w.manager());
    return cat;
  }

  /**
   * Score-tile bound of the SigLIP attention on CPU: 2^18 fp32 elements (1 MiB), so that a tile's
   * scores stay in a core's L2 from the q·kᵀ matmul through the softmax to the probs·v matmul; a
   * GPU keeps {@link Ops#scoreTileElements}.
   */
  static final long CPU_SCORE_TILE_ELEMENTS = 1L << 18;

  /**
   * Encodes a chunk of frames.
   *
   * @param pixels {@code [n, 3, S, S]} in the compute dtype, owned by the caller's manager
   * @param scratch manager for per-layer temporaries; the result is attached to pixels' manager
   * @return {@code [n, G*G, Cv]} (the last used layer's output, before any post-LN)
   */
  public NDArray forward(NDArray pixels, NDManager scratch) {
    NDArray x = embed(pixels); // [n, G*G, Cv]
    for (int i = 0; i < layers.length; i++) {
      NDArray next = applyLayer(i, x, scratch, OpTimer.NONE); // [n, G*G, Cv]
      x.close();
      x = next;
    }
    return x;
  }

  /** Encoder layers. */
  public int numLayers() {
    return layers.length;
  }

  /**
   * Layer {@code i} on {@code x [n, G*G, Cv]}: a new {@code [n, G*G, Cv]} in x's manager, its
   * temporaries in a sub-manager of {@code scratch} closed before returning ({@code x} stays open).
   */
  public NDArray applyLayer(int i, NDArray x, NDManager scratch, OpTimer timer) {
    NDManager owner = x.getManager();
    try (NDManager lm = scratch.newSubManager()) {
      x.tempAttach(lm);
      NDArray next = layer(layers[i], x, timer); // [n, G*G, Cv]
      next.attach(owner);
      return next;
    }
  }

  /**
   * Patch + position embedding: a conv with kernel = stride = P written as one matmul over the
   * row-major patches. {@code pixels [n, 3, S, S]} -> {@code [n, G*G, Cv]} in pixels' manager.
   */
  public NDArray embed(NDArray pixels) {
    return embed(pixels, OpTimer.NONE);
  }

  /** {@link #embed(NDArray)}, timed op by op. */
  public NDArray embed(NDArray pixels, OpTimer timer) {
    long t = timer.start();
    long n = pixels.getShape().get(0);
    int g = vc.gridSize();
    int p = vc.patchSize();
    long cv = vc.hiddenSize();
    long side = pixels.getShape().get(3);
    long used = (long) g * p;
    // A stride-P conv ignores the last (S mod P) rows and columns (384 px, P 14: 6 px dropped).
    NDArray cropped =
        side == used ? pixels : pixels.get(":, :, 0:" + used + ", 0:" + used); // [n, 3, G*P, G*P]
    try (NDArray p6 = cropped.reshape(n, 3, g, p, g, p); // [n, 3, G, P, G, P]
        NDArray perm = p6.transpose(0, 2, 4, 1, 3, 5); // [n, G, G, 3, P, P]
        NDArray flat = perm.reshape(n * g * g, 3L * p * p); // [n*G*G, 3*P*P]
        NDArray emb = Ops.linear(flat, patchW, patchB); // [n*G*G, Cv]
        NDArray emb3 = emb.reshape(n, (long) g * g, cv)) { // [n, G*G, Cv]
      return emb3.add(posEmb); // [n, G*G, Cv]
    } finally {
      timer.stop("siglip.embed", t);
      if (cropped != pixels) {
        cropped.close();
      }
    }
  }

  /** One encoder layer; {@code x [n, L, Cv]} -> {@code [n, L, Cv]} in x's manager. */
  NDArray layer(Layer w, NDArray x) {
    return layer(w, x, OpTimer.NONE);
  }

  private NDArray layer(Layer w, NDArray x, OpTimer timer) {
    long n = x.getShape().get(0);
    long len = x.getShape().get(1);
    int h = vc.numAttentionHeads();
    int d = vc.headDim();
    long cv = vc.hiddenSize();
    float eps = (float) vc.layerNormEps();
    long t = timer.start();
    NDArray h1 = Ops.layerNorm(x, w.ln1W, w.ln1B, eps); // [n, L, Cv]
    t = lap(timer, "siglip.layer_norm", t);
    NDArray qkv = Ops.linear(h1, w.wQkv, w.bQkv); // [n, L, 3 Cv]
    t = lap(timer, "siglip.qkv_proj", t);
    // One copy into head-major order (reshape of the permuted view), so that every attention
    // matmul below reads contiguous [L, D] rows per (frame, head) instead of strided ones.
    NDArray heads =
        qkv.reshape(n, len, 3, h, d)
            .transpose(2, 0, 3, 1, 4) // [3, n, H, L, D] view
            .reshape(3 * n * h, len, d) // [3 n H, L, D] contiguous copy
            .reshape(3, n, h, len, d); // [3, n, H, L, D]
    NDArray q = heads.get(0); // [n, H, L, D], pre-scaled by 1/sqrt(D) (see qkvScaled)
    NDArray k = heads.get(1); // [n, H, L, D]
    NDArray v = heads.get(2); // [n, H, L, D]
    t = lap(timer, "siglip.split_heads", t);
    // libtorch's fused attention (1.4-5.8x the composed path on CPU, SdpaBench); the composed,
    // cache-tiled path where the module cannot run on this device.
    NDArray a; // [n, H, L, D]
    if (Ops.fusedAttentionAvailable(x.getDevice())) {
      a = Ops.attentionFused(q, k, v, null, 1f);
    } else {
      long tile =
          x.getDevice().isGpu() ? Ops.scoreTileElements(x.getDevice()) : CPU_SCORE_TILE_ELEMENTS;
      a = Ops.attention(q, k, v, null, 1f, tile);
    }
    t = lap(timer, "siglip.attention", t);
    NDArray merged = a.transpose(0, 2, 1, 3).reshape(n, len, cv); // [n, L, Cv]
    t = lap(timer, "siglip.merge_heads", t);
    NDArray o = Ops.linear(merged, w.wOut, w.bOut); // [n, L, Cv]
    t = lap(timer, "siglip.out_proj", t);
    NDArray x1 = x.add(o); // [n, L, Cv]
    t = lap(timer, "siglip.residual", t);
    NDArray h2 = Ops.layerNorm(x1, w.ln2W, w.ln2B, eps); // [n, L, Cv]
    t = lap(timer, "siglip.layer_norm", t);
    NDArray f1 = Ops.linear(h2, w.fc1W, w.fc1B); // [n, L, I]
    t = lap(timer, "siglip.fc1", t);
    NDArray act = Ops.geluTanh(f1); // [n, L, I]
    t = lap(timer, "siglip.gelu_tanh", t);
    NDArray f2 = Ops.linear(act, w.fc2W, w.fc2B); // [n, L, Cv]
    t = lap(timer, "siglip.fc2", t);
    NDArray out = x1.add(f2); // [n, L, Cv]
    lap(timer, "siglip.residual", t);
    return out;
  }

  private static long lap(OpTimer timer, String op, long started) {
    timer.stop(op, started);
    return timer.start();
  }

  public ModelConfig.VisionConfig config() {
    return vc;
  }

  /** Layer {@code i}'s forward, for tests: {@code x [n, L, Cv]}. */
  public NDArray layerForTest(int i, NDArray x) {
    return layer(layers[i], x);
  }
}

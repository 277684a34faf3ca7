package dev.llavast.models.siglip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.llavast.models.CheckpointLayout;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;
import java.util.List;

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
    Layer[] layers = new Layer[vc.numHiddenLayers()];
    for (int i = 0; i < layers.length; i++) {
      String l = PREFIX + "encoder.layers." + i + ".";
      String a = l + "self_attn.";
      layers[i] =
          new Layer(
              w.load(l + "layer_norm1.weight", cv),
              w.load(l + "layer_norm1.bias", cv),
              w.loadConcat(
                  List.of(a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"),
                  List.of(new long[] {cv, cv}, new long[] {cv, cv}, new long[] {cv, cv})),
              w.loadConcat(
                  List.of(a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"),
                  List.of(new long[] {cv}, new long[] {cv}, new long[] {cv})),
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
   * Encodes a chunk of frames.
   *
   * @param pixels {@code [n, 3, S, S]} in the compute dtype, owned by the caller's manager
   * @param scratch manager for per-layer temporaries; the result is attached to pixels' manager
   * @return {@code [n, G*G, Cv]} (the last used layer's output, before any post-LN)
   */
  public NDArray forward(NDArray pixels, NDManager scratch) {
    NDManager owner = pixels.getManager();
    NDArray x = embed(pixels); // [n, G*G, Cv]
    for (Layer layer : layers) {
      NDArray next;
      try (NDManager lm = scratch.newSubManager()) {
        x.tempAttach(lm);
        next = layer(layer, x);
        next.attach(owner);
      }
      x.close();
      x = next;
    }
    return x;
  }

  /**
   * Patch + position embedding: a conv with kernel = stride = P written as one matmul over the
   * row-major patches. {@code pixels [n, 3, S, S]} -> {@code [n, G*G, Cv]} in pixels' manager.
   */
  public NDArray embed(NDArray pixels) {
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
      if (cropped != pixels) {
        cropped.close();
      }
    }
  }

  /** One encoder layer; {@code x [n, L, Cv]} -> {@code [n, L, Cv]} in x's manager. */
  NDArray layer(Layer w, NDArray x) {
    long n = x.getShape().get(0);
    long len = x.getShape().get(1);
    int h = vc.numAttentionHeads();
    int d = vc.headDim();
    long cv = vc.hiddenSize();
    float eps = (float) vc.layerNormEps();
    NDArray h1 = Ops.layerNorm(x, w.ln1W, w.ln1B, eps); // [n, L, Cv]
    NDArray qkv = Ops.linear(h1, w.wQkv, w.bQkv); // [n, L, 3 Cv]
    NDArray heads = qkv.reshape(n, len, 3, h, d).transpose(2, 0, 3, 1, 4); // [3, n, H, L, D]
    NDArray q = heads.get(0); // [n, H, L, D]
    NDArray k = heads.get(1); // [n, H, L, D]
    NDArray v = heads.get(2); // [n, H, L, D]
    NDArray a = Ops.attention(q, k, v, null, (float) (1.0 / Math.sqrt(d))); // [n, H, L, D]
    NDArray merged = a.transpose(0, 2, 1, 3).reshape(n, len, cv); // [n, L, Cv]
    NDArray o = Ops.linear(merged, w.wOut, w.bOut); // [n, L, Cv]
    NDArray x1 = x.add(o); // [n, L, Cv]
    NDArray h2 = Ops.layerNorm(x1, w.ln2W, w.ln2B, eps); // [n, L, Cv]
    NDArray f1 = Ops.linear(h2, w.fc1W, w.fc1B); // [n, L, I]
    NDArray act = Ops.geluTanh(f1); // [n, L, I]
    NDArray f2 = Ops.linear(act, w.fc2W, w.fc2B); // [n, L, Cv]
    return x1.add(f2); // [n, L, Cv]
  }

  public ModelConfig.VisionConfig config() {
    return vc;
  }

  /** Layer {@code i}'s forward, for tests: {@code x [n, L, Cv]}. */
  public NDArray layerForTest(int i, NDArray x) {
    return layer(layers[i], x);
  }
}

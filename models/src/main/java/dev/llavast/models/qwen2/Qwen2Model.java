package dev.llavast.models.qwen2;

import dev.llavast.models.CheckpointLayout;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * The Qwen2 decoder (GQA with q/k/v biases and no o bias, RMSNorm, SwiGLU, rotate-half RoPE) running
 * batched steps over a paged KV pool.
 *
 * <p>Weights live in the manager given at load (long-lived); q|k|v and gate|up are fused at load so a
 * layer costs two big matmuls fewer. The KV pool is one {@code [blocks, blockSize, kvHeads, headDim]}
 * array for K and one for V per layer, in a sub-manager of the weights' manager.
 *
 * <p>Threading: all methods run on the owning device worker thread only.
 */
public final class Qwen2Model implements AutoCloseable {
  private final ModelConfig cfg;
  private final DataType dtype;
  private final NDManager manager;
  private final Layer[] layers;
  private final NDArray finalNorm; // [C]
  private final float eps;
  private NDManager kvManager;
  private NDArray[] kPool; // per layer [blocks, blockSize, Hkv, D]
  private NDArray[] vPool; // per layer [blocks, blockSize, Hkv, D]
  private int numBlocks;
  private int blockSize;

  private record Layer(
      NDArray inNorm,    // [C]
      NDArray wQkv,      // [(Hq + 2 Hkv) D, C]
      NDArray bQkv,      // [(Hq + 2 Hkv) D]
      NDArray wO,        // [C, Hq D]
      NDArray postNorm,  // [C]
      NDArray wGateUp,   // [2 I, C]
      NDArray wDown) {}  // [C, I]

  private Qwen2Model(ModelConfig cfg, DataType dtype, NDManager manager, Layer[] layers, NDArray finalNorm) {
    this.cfg = cfg;
    this.dtype = dtype;
    this.manager = manager;
    this.layers = layers;
    this.finalNorm = finalNorm;
    this.eps = (float) cfg.rmsNormEps();
  }

  /** Loads {@code model.layers.*} and {@code model.norm.weight}, owned by {@code w.manager()}. */
  public static Qwen2Model load(ModelConfig cfg, Weights w) {
    long c = cfg.hiddenSize();
    long qd = (long) cfg.numAttentionHeads() * cfg.headDim();
    long kvd = (long) cfg.numKeyValueHeads() * cfg.headDim();
    long im = cfg.intermediateSize();
    Layer[] layers = new Layer[cfg.numHiddenLayers()];
    for (int i = 0; i < layers.length; i++) {
      String p = "model.layers." + i + ".";
      String a = p + "self_attn.";
      layers[i] = new Layer(
          w.load(p + "input_layernorm.weight", c),
          w.loadConcat(List.of(a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"),
              List.of(new long[] {qd, c}, new long[] {kvd, c}, new long[] {kvd, c})),
          w.loadConcat(List.of(a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"),
              List.of(new long[] {qd}, new long[] {kvd}, new long[] {kvd})),
          w.load(a + "o_proj.weight", c, qd),
          w.load(p + "post_attention_layernorm.weight", c),
          w.loadConcat(List.of(p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"),
              List.of(new long[] {im, c}, new long[] {im, c})),
          w.load(p + "mlp.down_proj.weight", c, im));
    }
    NDArray norm = w.load(CheckpointLayout.FINAL_NORM, c);
    return new Qwen2Model(cfg, w.dtype(), w.manager(), layers, norm);
  }

  /**
   * Allocates (or re-allocates) the zeroed KV pool.
   *
   * @throws IllegalStateException if the native allocation fails
   */
  public void allocateKvCache(int numBlocks, int blockSize) {
    if (numBlocks <= 0 || blockSize <= 0) {
      throw new IllegalArgumentException("KV pool needs numBlocks > 0 and blockSize > 0, got " + numBlocks
          + " x " + blockSize);
    }
    releaseKv();
    Shape shape = new Shape(numBlocks, blockSize, cfg.numKeyValueHeads(), cfg.headDim());
    NDManager m = manager.newSubManager();
    try {
      NDArray[] k = new NDArray[layers.length];
      NDArray[] v = new NDArray[layers.length];
      for (int l = 0; l < layers.length; l++) {
        k[l] = m.zeros(shape, dtype); // [blocks, bs, Hkv, D]
        v[l] = m.zeros(shape, dtype); // [blocks, bs, Hkv, D]
      }
      kvManager = m;
      kPool = k;
      vPool = v;
      this.numBlocks = numBlocks;
      this.blockSize = blockSize;
    } catch (RuntimeException e) {
      m.close();
      throw new IllegalStateException("cannot allocate a KV pool of " + numBlocks + " blocks x " + blockSize
          + " slots x " + layers.length + " layers: " + e.getMessage(), e);
    }
  }

  public int numBlocks() {
    return numBlocks;
  }

  public int blockSize() {
    return blockSize;
  }

  /**
   * Runs every layer over the batch, writing the new K/V into the pool, and returns the final-normed
   * hidden state of the last row of each run with {@code emitHidden}, in run order.
   *
   * @param x input embeddings {@code [N, C]}, owned by {@code step}; closed by this method
   * @param step the per-step manager that owns every temporary and the result
   * @return {@code [M, C]} owned by {@code step}, M = runs with emitHidden (null if M = 0)
   */
  public NDArray forward(NDArray x, PagedBatch batch, NDManager step) {
    if (kPool == null) {
      throw new IllegalStateException("allocateKvCache was not called");
    }
    if (batch.blockSize() != blockSize) {
      throw new IllegalArgumentException("step block size " + batch.blockSize() + " differs from the pool's "
          + blockSize);
    }
    int n = batch.rows();
    if (x.getShape().get(0) != n) {
      throw new IllegalArgumentException("input has " + x.getShape().get(0) + " rows, batch has " + n);
    }
    StepLayout layout = new StepLayout(batch, numBlocks, cfg, step, dtype);
    for (int l = 0; l < layers.length; l++) {
      NDArray next;
      try (NDManager lm = step.newSubManager()) {
        x.tempAttach(lm);
        next = layerForward(l, x, layout, lm);
        next.attach(step);
      }
      x.close();
      x = next;
    }
    if (layout.emitRows.length == 0) {
      x.close();
      return null;
    }
    try (NDArray idx = step.create(layout.emitRows);            // [M]
        NDArray rows = x.get(new NDIndex("{}", idx))) {           // [M, C]
      x.close();
      return Ops.rmsNorm(rows, finalNorm, eps);                  // [M, C]
    }
  }

  private NDArray layerForward(int l, NDArray x, StepLayout layout, NDManager lm) {
    Layer w = layers[l];
    int n = layout.rows;
    int hq = cfg.numAttentionHeads();
    int hkv = cfg.numKeyValueHeads();
    int d = cfg.headDim();
    NDArray h = Ops.rmsNorm(x, w.inNorm, eps);                    // [N, C]
    NDArray qkv = Ops.linear(h, w.wQkv, w.bQkv);                   // [N, (Hq+2Hkv) D]
    NDArray q = qkv.get(":, 0:" + (hq * d)).reshape(n, hq, d);     // [N, Hq, D]
    NDArray k = qkv.get(":, " + (hq * d) + ":" + ((hq + hkv) * d)).reshape(n, hkv, d); // [N, Hkv, D]
    NDArray v = qkv.get(":, " + ((hq + hkv) * d) + ":").reshape(n, hkv, d);           // [N, Hkv, D]
    NDArray qr = Ops.rope(q, layout.cos, layout.sin);             // [N, Hq, D]
    NDArray kr = Ops.rope(k, layout.cos, layout.sin);             // [N, Hkv, D]
    NDIndex writeAt = new NDIndex("{}, {}", layout.writeBlock, layout.writeSlot);
    kPool[l].set(writeAt, kr);
    vPool[l].set(writeAt, v);
    NDArray attn = attention(l, qr, layout, lm);                  // [N, Hq D]
    NDArray o = Ops.linear(attn, w.wO, null);                     // [N, C]
    NDArray x1 = x.add(o);                                         // [N, C]
    NDArray h2 = Ops.rmsNorm(x1, w.postNorm, eps);                // [N, C]
    NDArray gu = Ops.linear(h2, w.wGateUp, null);                 // [N, 2I]
    int im = cfg.intermediateSize();
    NDArray gate = gu.get(":, 0:" + im);                           // [N, I]
    NDArray up = gu.get(":, " + im + ":");                         // [N, I]
    NDArray act = Ops.silu(gate);                                  // [N, I]
    NDArray prod = act.mul(up);                                    // [N, I]
    NDArray down = Ops.linear(prod, w.wDown, null);               // [N, C]
    return x1.add(down);                                           // [N, C]
  }

  /** Attention of every row against its own sequence's cached keys; rows come back in input order. */
  private NDArray attention(int l, NDArray q, StepLayout layout, NDManager lm) {
    int hq = cfg.numAttentionHeads();
    int hkv = cfg.numKeyValueHeads();
    int g = hq / hkv;
    int d = cfg.headDim();
    float scale = (float) (1.0 / Math.sqrt(d));
    List<NDArray> outs = new ArrayList<>();
    for (StepLayout.Group gr : layout.groups) {
      int s = gr.seqs();
      int qm = gr.qMax();
      int lk = gr.kMax();
      NDArray qg = q.get(new NDIndex("{}", gr.qRows()));                       // [S*Qm, Hq, D]
      NDArray q5 = qg.reshape(s, qm, hkv, g, d).transpose(0, 2, 3, 1, 4)      // [S, Hkv, G, Qm, D]
          .reshape(s, hkv, g * qm, d);                                         // [S, Hkv, G*Qm, D]
      NDIndex at = new NDIndex("{}", gr.kvBlock());                            // whole blocks: index_select on dim 0
      NDArray kg = Ops.own(kPool[l].get(at), lm);                              // [S*Lk/bs, bs, Hkv, D]
      NDArray vg = Ops.own(vPool[l].get(at), lm);                              // [S*Lk/bs, bs, Hkv, D]
      NDArray kt = kg.reshape(s, lk, hkv, d).transpose(0, 2, 3, 1);           // [S, Hkv, D, Lk]
      NDArray vt = vg.reshape(s, lk, hkv, d).transpose(0, 2, 1, 3);           // [S, Hkv, Lk, D]
      NDArray scores = q5.matMul(kt).mul(scale).reshape(s, hkv, g, qm, lk);   // [S, Hkv, G, Qm, Lk]
      NDArray probs = Ops.softmaxLastFp32(scores, gr.mask())                  // [S, Hkv, G, Qm, Lk]
          .reshape(s, hkv, g * qm, lk);                                        // [S, Hkv, G*Qm, Lk]
      NDArray o = probs.matMul(vt)                                             // [S, Hkv, G*Qm, D]
          .reshape(s, hkv, g, qm, d).transpose(0, 3, 1, 2, 4)                 // [S, Qm, Hkv, G, D]
          .reshape(s * qm, hq * d);                                            // [S*Qm, Hq D]
      outs.add(gr.outRows() == null ? o : o.get(new NDIndex("{}", gr.outRows()))); // [n_g, Hq D]
    }
    NDArray cat = outs.size() == 1 ? outs.get(0) : NDArrays.concat(new NDList(outs), 0); // [N, Hq D] group order
    return layout.reorder == null ? cat : cat.get(new NDIndex("{}", layout.reorder));    // [N, Hq D]
  }

  private void releaseKv() {
    if (kvManager != null) {
      kvManager.close();
      kvManager = null;
      kPool = null;
      vPool = null;
    }
  }

  /** Closes the KV pool; the weights belong to the manager given at load and close with it. */
  @Override
  public void close() {
    releaseKv();
  }
}

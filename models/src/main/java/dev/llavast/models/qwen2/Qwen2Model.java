package dev.llavast.models.qwen2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.CheckpointLayout;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The Qwen2 decoder (GQA with q/k/v biases and no o bias, RMSNorm, SwiGLU, rotate-half RoPE)
 * running batched steps over a paged KV pool.
 *
 * <p>Weights live in the manager given at load (long-lived); q|k|v and gate|up are fused at load so
 * a layer costs two big matmuls fewer. The KV pool is one {@code [blocks, blockSize, kvHeads,
 * headDim]} array for K and one for V per layer, in a sub-manager of the weights' manager.
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
  private final long scoreTile; // most fp32 score elements per attention tile on this device
  private final Settings settings;
  private @Nullable NDManager kvManager; // null until allocateKvCache, and after close
  private NDArray[] kPool = new NDArray[0]; // per layer [blocks, blockSize, Hkv, D]
  private NDArray[] vPool = new NDArray[0]; // per layer [blocks, blockSize, Hkv, D]
  private int numBlocks;
  private int blockSize;

  private record Layer(
      NDArray inNorm, // [C]
      NDArray wQkv, // [(Hq + 2 Hkv) D, C]
      NDArray bQkv, // [(Hq + 2 Hkv) D]
      NDArray wO, // [C, Hq D]
      NDArray postNorm, // [C]
      NDArray wGateUp, // [2 I, C]
      NDArray wDown) {} // [C, I]

  /**
   * How the model runs on its device.
   *
   * @param fp32Scores compute {@code q·kᵀ} in fp32 when the dtype is fp16 (each group's keys are
   *     cast once per layer; fp16 scores of Qwen2-7B can overflow to infinity and the softmax to
   *     NaN)
   * @param maxDecodeGroup most single-token decodes per padded attention group
   */
  public record Settings(boolean fp32Scores, int maxDecodeGroup) {
    public Settings {
      if (maxDecodeGroup <= 0) {
        throw new IllegalArgumentException("maxDecodeGroup must be > 0, got " + maxDecodeGroup);
      }
    }

    /** fp16 scores as the dtype computes them; decode groups of 8 (the CPU's). */
    public static Settings defaults() {
      return new Settings(false, StepLayout.MAX_DECODE_GROUP);
    }
  }

  private Qwen2Model(
      ModelConfig cfg,
      DataType dtype,
      NDManager manager,
      Layer[] layers,
      NDArray finalNorm,
      Settings settings) {
    this.settings = settings;
    this.cfg = cfg;
    this.dtype = dtype;
    this.manager = manager;
    this.layers = layers;
    this.finalNorm = finalNorm;
    this.eps = (float) cfg.rmsNormEps();
    this.scoreTile = Ops.scoreTileElements(manager.getDevice());
  }

  /** Loads {@code model.layers.*} and {@code model.norm.weight}, owned by {@code w.manager()}. */
  public static Qwen2Model load(ModelConfig cfg, Weights w) {
    return load(cfg, w, Settings.defaults());
  }

  /** As {@link #load(ModelConfig, Weights)}, run with {@code settings}. */
  public static Qwen2Model load(ModelConfig cfg, Weights w, Settings settings) {
    long c = cfg.hiddenSize();
    long qd = (long) cfg.numAttentionHeads() * cfg.headDim();
    long kvd = (long) cfg.numKeyValueHeads() * cfg.headDim();
    long im = cfg.intermediateSize();
    Layer[] layers = new Layer[cfg.numHiddenLayers()];
    for (int i = 0; i < layers.length; i++) {
      String p = "model.layers." + i + ".";
      String a = p + "self_attn.";
      layers[i] =
          new Layer(
              w.load(p + "input_layernorm.weight", c),
              w.loadConcat(
                  List.of(a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"),
                  List.of(new long[] {qd, c}, new long[] {kvd, c}, new long[] {kvd, c})),
              w.loadConcat(
                  List.of(a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"),
                  List.of(new long[] {qd}, new long[] {kvd}, new long[] {kvd})),
              w.load(a + "o_proj.weight", c, qd),
              w.load(p + "post_attention_layernorm.weight", c),
              w.loadConcat(
                  List.of(p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"),
                  List.of(new long[] {im, c}, new long[] {im, c})),
              w.load(p + "mlp.down_proj.weight", c, im));
    }
    NDArray norm = w.load(CheckpointLayout.FINAL_NORM, c);
    return new Qwen2Model(cfg, w.dtype(), w.manager(), layers, norm, settings);
  }

  /**
   * Allocates (or re-allocates) the zeroed KV pool.
   *
   * @throws IllegalStateException if the native allocation fails
   */
  public void allocateKvCache(int numBlocks, int blockSize) {
    if (numBlocks <= 0 || blockSize <= 0) {
      throw new IllegalArgumentException(
          "KV pool needs numBlocks > 0 and blockSize > 0, got " + numBlocks + " x " + blockSize);
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
      throw new IllegalStateException(
          "cannot allocate a KV pool of "
              + numBlocks
              + " blocks x "
              + blockSize
              + " slots x "
              + layers.length
              + " layers: "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Zeroes the K/V that this step wrote for the given rows' positions in every layer: called when a
   * sequence's logits came out non-finite, so that its NaN or infinite K/V cannot reach the next
   * owner of those blocks (a masked key still enters {@code q·kᵀ}, and {@code NaN - inf} is NaN).
   *
   * @param blocks pool block of each position
   * @param slots slot of each position in its block
   */
  public void clearSlots(long[] blocks, long[] slots, NDManager step) {
    if (kPool == null || blocks.length == 0) {
      return;
    }
    try (NDManager m = step.newSubManager()) {
      NDIndex at = new NDIndex("{}, {}", m.create(blocks), m.create(slots)); // [P], [P]
      NDArray zero =
          m.zeros(new Shape(blocks.length, cfg.numKeyValueHeads(), cfg.headDim()), dtype);
      // zero: [P, Hkv, D]; a scalar value would be created in the pool's manager and outlive this
      for (int l = 0; l < layers.length; l++) {
        kPool[l].set(at, zero);
        vPool[l].set(at, zero);
      }
    }
  }

  public int numBlocks() {
    return numBlocks;
  }

  public int blockSize() {
    return blockSize;
  }

  /**
   * Runs every layer over the batch, writing the new K/V into the pool, and returns the
   * final-normed hidden state of the last row of each run with {@code emitHidden}, in run order.
   *
   * @param x input embeddings {@code [N, C]}, owned by {@code step}; closed by this method
   * @param step the per-step manager that owns every temporary and the result
   * @return {@code [M, C]} owned by {@code step}, M = runs with emitHidden (null if M = 0)
   */
  public @Nullable NDArray forward(NDArray x, PagedBatch batch, NDManager step) {
    if (kvManager == null) {
      throw new IllegalStateException("allocateKvCache was not called");
    }
    if (batch.blockSize() != blockSize) {
      throw new IllegalArgumentException(
          "step block size " + batch.blockSize() + " differs from the pool's " + blockSize);
    }
    int n = batch.rows();
    if (x.getShape().get(0) != n) {
      throw new IllegalArgumentException(
          "input has " + x.getShape().get(0) + " rows, batch has " + n);
    }
    StepLayout layout =
        new StepLayout(batch, numBlocks, cfg, step, dtype, settings.maxDecodeGroup());
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
    try (NDArray idx = step.create(layout.emitRows); // [M]
        NDArray rows = x.get(new NDIndex("{}", idx))) { // [M, C]
      x.close();
      return Ops.rmsNorm(rows, finalNorm, eps); // [M, C]
    }
  }

  private NDArray layerForward(int l, NDArray x, StepLayout layout, NDManager lm) {
    Layer w = layers[l];
    int n = layout.rows;
    int hq = cfg.numAttentionHeads();
    int hkv = cfg.numKeyValueHeads();
    int d = cfg.headDim();
    NDArray h = Ops.rmsNorm(x, w.inNorm, eps); // [N, C]
    NDArray qkv = Ops.linear(h, w.wQkv, w.bQkv); // [N, (Hq+2Hkv) D]
    // q and k are rotated together (one RoPE, 6 ops, instead of 7 for each)
    NDArray qk = qkv.get(":, 0:" + ((hq + hkv) * d)).reshape(n, hq + hkv, d); // [N, Hq+Hkv, D]
    NDArray v = qkv.get(":, " + ((hq + hkv) * d) + ":").reshape(n, hkv, d); // [N, Hkv, D]
    NDArray qkr = Ops.ropeSigned(qk, layout.cos, layout.sin); // [N, Hq+Hkv, D]
    NDArray qr = qkr.get(":, 0:" + hq); // [N, Hq, D]
    NDArray kr = qkr.get(":, " + hq + ":"); // [N, Hkv, D]
    NDIndex writeAt = new NDIndex("{}, {}", layout.writeBlock, layout.writeSlot);
    kPool[l].set(writeAt, kr);
    vPool[l].set(writeAt, v);
    NDArray attn = attention(l, qr, layout, lm); // [N, Hq D]
    NDArray o = Ops.linear(attn, w.wO, null); // [N, C]
    NDArray x1 = x.add(o); // [N, C]
    NDArray h2 = Ops.rmsNorm(x1, w.postNorm, eps); // [N, C]
    NDArray gu = Ops.linear(h2, w.wGateUp, null); // [N, 2I]
    int im = cfg.intermediateSize();
    NDArray gate = gu.get(":, 0:" + im); // [N, I]
    NDArray up = gu.get(":, " + im + ":"); // [N, I]
    NDArray act = Ops.silu(gate); // [N, I]
    NDArray prod = act.mul(up); // [N, I]
    NDArray down = Ops.linear(prod, w.wDown, null); // [N, C]
    return x1.add(down); // [N, C]
  }

  /**
   * Attention of every row against its own sequence's cached keys; rows come back in input order.
   */
  private NDArray attention(int l, NDArray q, StepLayout layout, NDManager lm) {
    List<NDArray> outs = new ArrayList<>();
    for (StepLayout.Group gr : layout.groups) {
      outs.add(
          gr instanceof StepLayout.Shared sh
              ? shared(l, q, sh, lm)
              : padded(l, q, (StepLayout.Padded) gr, lm));
    }
    NDArray cat =
        outs.size() == 1
            ? outs.get(0)
            : NDArrays.concat(new NDList(outs), 0); // [N, Hq D] group order
    return layout.reorder == null ? cat : cat.get(new NDIndex("{}", layout.reorder)); // [N, Hq D]
  }

  /** One padded group: every run's keys gathered whole blocks at a time, one masked softmax. */
  private NDArray padded(int l, NDArray q, StepLayout.Padded gr, NDManager lm) {
    int hkv = cfg.numKeyValueHeads();
    int d = cfg.headDim();
    int s = gr.seqs();
    int qm = gr.qMax();
    int lk = gr.kMax();
    NDArray qg =
        q.get(new NDIndex("{}", gr.qRows())).mul(scale()); // [S*Qm, Hq, D], scaled once here
    NDArray q4 = queryMajor(qg, s, qm); // [S, Hkv, Qm*G, D]
    NDIndex at =
        gr.kvStart() >= 0
            ? new NDIndex()
                .addSliceDim(
                    gr.kvStart(),
                    gr.kvStart() + lk / blockSize) // one run's consecutive blocks: a view
            : new NDIndex("{}", gr.kvBlock()); // whole blocks: index_select on dim 0
    NDArray kg = Ops.own(kPool[l].get(at), lm); // [S*Lk/bs, bs, Hkv, D]
    NDArray vg = Ops.own(vPool[l].get(at), lm); // [S*Lk/bs, bs, Hkv, D]
    NDArray kt = kg.reshape(s, lk, hkv, d).transpose(0, 2, 3, 1); // [S, Hkv, D, Lk]
    NDArray vt = vg.reshape(s, lk, hkv, d).transpose(0, 2, 1, 3); // [S, Hkv, Lk, D]
    NDArray o = attend(q4, kt, vt, gr.mask(), false).out(); // [S, Hkv, Qm*G, D]
    NDArray rows = rowMajor(o, s, qm); // [S*Qm, Hq D]
    return gr.outRows() == null ? rows : rows.get(new NDIndex("{}", gr.outRows())); // [n_g, Hq D]
  }

  /**
   * One shared-prefix group ("cascade" attention). The prefix's K/V are read once and all query
   * rows of a KV head meet them in one matmul (tiled); each member's suffix is attended as a padded
   * group. The two softmaxes are merged exactly: with {@code lse_p}, {@code lse_s} the parts'
   * log-sum-exps and {@code M} the larger, weights {@code w = exp(lse_part - M)} and {@code out =
   * (w_p * o_p + w_s * o_s) / (w_p + w_s)}, {@code o_part} being the part's normalized output.
   */
  private NDArray shared(int l, NDArray q, StepLayout.Shared gr, NDManager lm) {
    int hkv = cfg.numKeyValueHeads();
    int g = cfg.numAttentionHeads() / hkv;
    int d = cfg.headDim();
    int s = gr.seqs();
    int qm = gr.qMax();
    int lp = gr.prefixBlocks() * blockSize;
    int ls = gr.suffixKeys();
    NDArray qg =
        q.get(new NDIndex("{}", gr.qRows())).mul(scale()); // [S*Qm, Hq, D], scaled once here
    NDArray q4 = queryMajor(qg, s, qm); // [S, Hkv, Qm*G, D]
    NDArray qp = q4.transpose(1, 0, 2, 3).reshape(1, hkv, s * qm * g, d); // [1, Hkv, S*Qm*G, D]

    NDIndex prefixAt =
        gr.prefixStart() >= 0
            ? new NDIndex()
                .addSliceDim(
                    gr.prefixStart(), gr.prefixStart() + gr.prefixBlocks()) // a view, no copy
            : new NDIndex("{}", gr.prefixBlock()); // index_select copy
    NDArray kp = Ops.own(kPool[l].get(prefixAt), lm).reshape(1, lp, hkv, d); // [1, Lp, Hkv, D]
    NDArray vp = Ops.own(vPool[l].get(prefixAt), lm).reshape(1, lp, hkv, d); // [1, Lp, Hkv, D]
    Part prefix =
        attend(
            qp,
            kp.transpose(0, 2, 3, 1),
            vp.transpose(0, 2, 1, 3),
            null,
            true); // [1, Hkv, S*Qm*G, D|1]

    NDIndex suffixAt = new NDIndex("{}", gr.suffixBlock());
    NDArray ks = Ops.own(kPool[l].get(suffixAt), lm); // [S*Ls/bs, bs, Hkv, D]
    NDArray vs = Ops.own(vPool[l].get(suffixAt), lm); // [S*Ls/bs, bs, Hkv, D]
    NDArray kst = ks.reshape(s, ls, hkv, d).transpose(0, 2, 3, 1); // [S, Hkv, D, Ls]
    NDArray vst = vs.reshape(s, ls, hkv, d).transpose(0, 2, 1, 3); // [S, Hkv, Ls, D]
    Part suffix = attend(q4, kst, vst, gr.suffixMask(), true); // [S, Hkv, Qm*G, D|1]
    NDArray suffixOut =
        suffix.out().transpose(1, 0, 2, 3).reshape(1, hkv, s * qm * g, d); // [1, Hkv, S*Qm*G, D]
    NDArray suffixLse =
        suffix
            .requireLse()
            .transpose(1, 0, 2, 3)
            .reshape(1, hkv, s * qm * g, 1); // [1, Hkv, S*Qm*G, 1]

    NDArray lse = prefix.requireLse().maximum(suffixLse); // [1, Hkv, S*Qm*G, 1]
    NDArray wp = prefix.requireLse().sub(lse).exp(); // [1, Hkv, S*Qm*G, 1]
    NDArray ws = suffixLse.sub(lse).exp(); // [1, Hkv, S*Qm*G, 1]
    NDArray o =
        prefix.out().mul(wp).add(suffixOut.mul(ws)).div(wp.add(ws)); // [1, Hkv, S*Qm*G, D] fp32
    NDArray rows =
        rowMajor(o.reshape(hkv, s, qm * g, d).transpose(1, 0, 2, 3), s, qm); // [S*Qm, Hq D]
    return gr.outRows() == null ? rows : rows.get(new NDIndex("{}", gr.outRows())); // [n_g, Hq D]
  }

  /**
   * {@code [S*Qm, Hq, D]} -> {@code [S, Hkv, Qm*G, D]}: a KV head's rows ordered (query, group
   * head).
   */
  private NDArray queryMajor(NDArray qg, int s, int qm) {
    int hkv = cfg.numKeyValueHeads();
    int g = cfg.numAttentionHeads() / hkv;
    int d = cfg.headDim();
    return qg.reshape(s, qm, hkv, g, d)
        .transpose(0, 2, 1, 3, 4) // [S, Hkv, Qm, G, D]
        .reshape(s, hkv, qm * g, d); // [S, Hkv, Qm*G, D]
  }

  /** {@code [S, Hkv, Qm*G, D]} -> {@code [S*Qm, Hq D]} in the model's dtype. */
  private NDArray rowMajor(NDArray o, int s, int qm) {
    int hkv = cfg.numKeyValueHeads();
    int g = cfg.numAttentionHeads() / hkv;
    int d = cfg.headDim();
    NDArray rows =
        o.reshape(s, hkv, qm, g, d)
            .transpose(0, 2, 1, 3, 4) // [S, Qm, Hkv, G, D]
            .reshape(s * qm, hkv * g * d); // [S*Qm, Hq D]
    return rows.getDataType() == dtype ? rows : rows.toType(dtype, false);
  }

  /**
   * A softmax's normalized output {@code [.., R, D]} and, when asked for, its row log-sum-exp
   * {@code [.., R, 1]}; both fp32 when the log-sum-exp is there (they are merged), else the output
   * is in the model's dtype.
   */
  private record Part(NDArray out, @Nullable NDArray lse) {
    /** The log-sum-exp of a part computed with {@code withLse}. */
    NDArray requireLse() {
      if (lse == null) {
        throw new IllegalStateException("attention part computed without its log-sum-exp");
      }
      return lse;
    }
  }

  /**
   * {@code softmax(q·kᵀ + mask)·v} over the keys, tiled along the query rows so that no score tile
   * exceeds {@link Ops#scoreTileElements} (large temporaries are slow to allocate on CPU; a
   * 512-token prefill chunk against 2,600 keys would otherwise make 40 MB score arrays). Scores,
   * softmax and statistics are fp32; the products run in the model's dtype, and so does the output
   * unless {@code withLse}.
   *
   * <p>The log-sum-exp needs no reduction of its own: {@code logSoftmax = score - lse} for every
   * key, so key 0 (never masked: a prefix has no mask and every row sees its first key) gives
   * {@code lse = score_0 - logSoftmax_0}. Two fused softmax kernels cost less than the max
   * reductions a stable exp-and-sum would need.
   *
   * @param q {@code [B, H, R, D]}, rows ordered (query, group head), already scaled
   * @param kt {@code [B, H, D, L]}
   * @param v {@code [B, H, L, D]}
   * @param mask {@code [B, 1, R/G, 1, L]} (one row per query, shared by its G heads) or null
   * @return out {@code [B, H, R, D]} and lse {@code [B, H, R, 1]} (null unless {@code withLse}),
   *     owned by q's manager; every tile's temporaries are closed before the next tile
   */
  private Part attend(NDArray q, NDArray kt, NDArray v, @Nullable NDArray mask, boolean withLse) {
    Shape qs = q.getShape();
    long b = qs.get(0);
    long h = qs.get(1);
    long r = qs.get(2);
    long keys = kt.getShape().get(3);
    int g = cfg.numAttentionHeads() / cfg.numKeyValueHeads();
    long queries = r / g;
    long perTile =
        Math.max(1, Math.min(queries, scoreTile / (b * h * g * keys))); // queries per tile
    NDManager owner = q.getManager();
    if (settings.fp32Scores() && q.getDataType() != DataType.FLOAT32) {
      q = q.toType(DataType.FLOAT32, false); // [B, H, R, D] in owner
      kt = kt.toType(DataType.FLOAT32, false); // [B, H, D, L] in kt's manager (the layer's)
    }
    List<NDArray> outs = new ArrayList<>();
    List<NDArray> lses = new ArrayList<>();
    for (long from = 0; from < queries; from += perTile) {
      long to = Math.min(queries, from + perTile);
      try (NDManager tm =
          owner.newSubManager()) { // a tile's temporaries go before the next tile's come
        q.tempAttach(tm);
        NDArray qt =
            perTile == queries
                ? q
                : q.get(new NDIndex(":, :, {}:{}", from * g, to * g)); // [B, H, T*G, D]
        NDArray sc = qt.matMul(kt); // [B, H, T*G, L]
        NDArray s32 =
            sc.getDataType() == DataType.FLOAT32 ? sc : sc.toType(DataType.FLOAT32, false);
        if (mask != null) {
          NDArray mt =
              perTile == queries
                  ? mask
                  : mask.get(new NDIndex(":, :, {}:{}", from, to)); // [B, 1, T, 1, L]
          s32 =
              s32.reshape(b, h, to - from, g, keys)
                  .add(mt)
                  .reshape(b, h, (to - from) * g, keys); // [B, H, T*G, L]
          if (mt != mask) {
            mt.close();
          }
        }
        NDArray probs = s32.softmax(-1); // [B, H, T*G, L]
        NDArray o =
            (dtype == DataType.FLOAT32 ? probs : probs.toType(dtype, false))
                .matMul(v); // [B, H, T*G, D]
        NDArray kept =
            !withLse || o.getDataType() == DataType.FLOAT32 ? o : o.toType(DataType.FLOAT32, false);
        kept.attach(owner);
        outs.add(kept);
        if (withLse) {
          NDIndex first = new NDIndex("..., 0:1");
          NDArray lse = s32.get(first).sub(s32.logSoftmax(-1).get(first)); // [B, H, T*G, 1]
          lse.attach(owner);
          lses.add(lse);
        }
      }
    }
    NDArray out =
        outs.size() == 1 ? outs.get(0) : NDArrays.concat(new NDList(outs), 2); // [B, H, R, D]
    NDArray lse =
        !withLse ? null : lses.size() == 1 ? lses.get(0) : NDArrays.concat(new NDList(lses), 2);
    return new Part(out, lse);
  }

  private float scale() {
    return (float) (1.0 / Math.sqrt(cfg.headDim()));
  }

  private void releaseKv() {
    if (kvManager != null) {
      kvManager.close();
      kvManager = null;
      kPool = new NDArray[0];
      vPool = new NDArray[0];
    }
  }

  /** Closes the KV pool; the weights belong to the manager given at load and close with it. */
  @Override
  public void close() {
    releaseKv();
  }
}

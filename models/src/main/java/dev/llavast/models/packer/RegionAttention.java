package dev.llavast.models.packer;

import ai.djl.ndarray.NDArray;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;

/**
 * STP's point-to-region attention block ({@code devide_attention}, spec §5.1): every query point
 * attends to the R keys of its own region only.
 *
 * <pre>
 * Q = ln_q(to_q(Xq)); K = ln_k(to_k(Xk)); V = ln_v(to_v(Xk))     to_* = Linear(C,E) GELU(erf) Linear(E,E)
 * a = MHA(Q, K, V) with packed in_proj q|k|v and out_proj         (heads h, softmax(q·kᵀ/√(E/h)))
 * out = Xq + to_out(a)                                             (to_out: Linear(E, C), no bias)
 * </pre>
 *
 * LayerNorm eps 1e-5. Weights owned by the loader's manager. Worker thread only.
 */
public final class RegionAttention {
  static final float LN_EPS = 1e-5f;

  private final int embed;
  private final int heads;
  private final Mlp toQ;
  private final Mlp toK;
  private final Mlp toV;
  private final NDArray lnQW, lnQB, lnKW, lnKB, lnVW, lnVB; // [E]
  private final NDArray inQW, inKW, inVW; // [E, E] each: rows of in_proj_weight
  private final NDArray inQB, inKB, inVB; // [E] each
  private final NDArray outW; // [E, E]
  private final NDArray outB; // [E]
  private final NDArray toOut; // [C, E]

  private record Mlp(NDArray w0, NDArray b0, NDArray w2, NDArray b2) { // [E, C], [E], [E, E], [E]
    NDArray forward(NDArray x) {
      try (NDArray h = Ops.linear(x, w0, b0); // [..., E]
          NDArray g = Ops.geluErf(h)) { // [..., E]
        return Ops.linear(g, w2, b2); // [..., E]
      }
    }
  }

  private RegionAttention(
      int embed,
      int heads,
      Mlp toQ,
      Mlp toK,
      Mlp toV,
      NDArray[] ln,
      NDArray[] in,
      NDArray outW,
      NDArray outB,
      NDArray toOut) {
    this.embed = embed;
    this.heads = heads;
    this.toQ = toQ;
    this.toK = toK;
    this.toV = toV;
    this.lnQW = ln[0];
    this.lnQB = ln[1];
    this.lnKW = ln[2];
    this.lnKB = ln[3];
    this.lnVW = ln[4];
    this.lnVB = ln[5];
    this.inQW = in[0];
    this.inKW = in[1];
    this.inVW = in[2];
    this.inQB = in[3];
    this.inKB = in[4];
    this.inVB = in[5];
    this.outW = outW;
    this.outB = outB;
    this.toOut = toOut;
  }

  /**
   * Loads {@code <prefix>.devide_attention.*}, e.g. prefix {@code
   * model.vision_resampler.token_packer}.
   */
  public static RegionAttention load(ModelConfig cfg, Weights w, String prefix) {
    long c = cfg.hiddenSize();
    long e = cfg.stpEmbedDim();
    String p = prefix + ".devide_attention.";
    Mlp[] mlps = new Mlp[3];
    String[] names = {"to_q", "to_k", "to_v"};
    for (int i = 0; i < 3; i++) {
      String m = p + names[i] + ".";
      mlps[i] =
          new Mlp(
              w.load(m + "0.weight", e, c),
              w.load(m + "0.bias", e),
              w.load(m + "2.weight", e, e),
              w.load(m + "2.bias", e));
    }
    NDArray[] ln = {
      w.load(p + "ln_q.weight", e), w.load(p + "ln_q.bias", e),
      w.load(p + "ln_k.weight", e), w.load(p + "ln_k.bias", e),
      w.load(p + "ln_v.weight", e), w.load(p + "ln_v.bias", e)
    };
    NDArray inW = w.load(p + "attn.in_proj_weight", 3 * e, e); // [3E, E]
    NDArray inB = w.load(p + "attn.in_proj_bias", 3 * e); // [3E]
    NDArray[] in = new NDArray[6];
    for (int i = 0; i < 3; i++) {
      in[i] = inW.get((i * e) + ":" + ((i + 1) * e)); // [E, E]
      in[3 + i] = inB.get((i * e) + ":" + ((i + 1) * e)); // [E]
      in[i].attach(w.manager());
      in[3 + i].attach(w.manager());
    }
    NDArray outW = w.load(p + "attn.out_proj.weight", e, e);
    NDArray outB = w.load(p + "attn.out_proj.bias", e);
    NDArray toOut = w.load(p + "to_out.weight", c, e);
    return new RegionAttention(
        (int) e, cfg.stpNumHeads(), mlps[0], mlps[1], mlps[2], ln, in, outW, outB, toOut);
  }

  /**
   * @param xq query points {@code [M, C]}
   * @param xk each point's region {@code [M, R, C]}
   * @return {@code [M, C]} = xq + to_out(attention), in xq's manager
   */
  public NDArray forward(NDArray xq, NDArray xk) {
    long m = xq.getShape().get(0);
    long r = xk.getShape().get(1);
    int d = embed / heads;
    try (NDArray tq = toQ.forward(xq); // [M, E]
        NDArray tk = toK.forward(xk); // [M, R, E]
        NDArray tv = toV.forward(xk); // [M, R, E]
        NDArray q = Ops.layerNorm(tq, lnQW, lnQB, LN_EPS); // [M, E]
        NDArray k = Ops.layerNorm(tk, lnKW, lnKB, LN_EPS); // [M, R, E]
        NDArray v = Ops.layerNorm(tv, lnVW, lnVB, LN_EPS); // [M, R, E]
        NDArray qp = Ops.linear(q, inQW, inQB); // [M, E]
        NDArray kp = Ops.linear(k, inKW, inKB); // [M, R, E]
        NDArray vp = Ops.linear(v, inVW, inVB); // [M, R, E]
        NDArray qh = qp.reshape(m, heads, 1, d); // [M, h, 1, d]
        NDArray kh = kp.reshape(m, r, heads, d).transpose(0, 2, 1, 3); // [M, h, R, d]
        NDArray vh = vp.reshape(m, r, heads, d).transpose(0, 2, 1, 3); // [M, h, R, d]
        NDArray a = Ops.attention(qh, kh, vh, null, (float) (1.0 / Math.sqrt(d))); // [M, h, 1, d]
        NDArray a2 = a.reshape(m, embed); // [M, E]
        NDArray o = Ops.linear(a2, outW, outB); // [M, E]
        NDArray back = Ops.linear(o, toOut, null)) { // [M, C]
      return xq.add(back); // [M, C]
    }
  }
}

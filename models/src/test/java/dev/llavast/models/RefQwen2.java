package dev.llavast.models;

/**
 * Test-only plain-Java LLaVA-ST LLM (contiguous KV, full causal attention, double accumulation),
 * written from the spec independently of the DJL code: the yardstick for the paged, batched
 * forward.
 */
final class RefQwen2 {
  private final ModelConfig cfg;
  private final RandomWeights w;

  RefQwen2(ModelConfig cfg, RandomWeights w) {
    this.cfg = cfg;
    this.w = w;
  }

  /** Row {@code id} of {@code [embed_tokens; T_in; H_in; W_in]}. */
  float[] embedRow(int id) {
    int c = cfg.hiddenSize();
    int v = cfg.vocabSize();
    int bins = cfg.numCoordinateBins();
    if (id < v) {
      return slice(w.get("model.embed_tokens.weight"), id, c);
    }
    int k = id - v;
    String[] t = {"temporal", "spatial_height", "spatial_width"};
    return slice(w.get("model." + t[k / bins] + "_input_embeddings.weight"), k % bins, c);
  }

  /** Logits {@code [L][V + 3 bins]} at every position of a sequence starting at position 0. */
  float[][] forward(float[][] emb) {
    int len = emb.length;
    int c = cfg.hiddenSize();
    int hq = cfg.numAttentionHeads();
    int hkv = cfg.numKeyValueHeads();
    int d = cfg.headDim();
    int g = hq / hkv;
    float[][] x = new float[len][];
    for (int i = 0; i < len; i++) {
      x[i] = emb[i].clone();
    }
    for (int l = 0; l < cfg.numHiddenLayers(); l++) {
      String p = "model.layers." + l + ".";
      float[][] q = new float[len][];
      float[][] k = new float[len][];
      float[][] v = new float[len][];
      for (int i = 0; i < len; i++) {
        float[] h = rms(x[i], w.get(p + "input_layernorm.weight"));
        q[i] =
            rope(
                lin(h, w.get(p + "self_attn.q_proj.weight"), w.get(p + "self_attn.q_proj.bias")),
                i,
                hq,
                d);
        k[i] =
            rope(
                lin(h, w.get(p + "self_attn.k_proj.weight"), w.get(p + "self_attn.k_proj.bias")),
                i,
                hkv,
                d);
        v[i] = lin(h, w.get(p + "self_attn.v_proj.weight"), w.get(p + "self_attn.v_proj.bias"));
      }
      for (int i = 0; i < len; i++) {
        float[] att = new float[hq * d];
        for (int h = 0; h < hq; h++) {
          int kh = h / g;
          double[] s = new double[i + 1];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            double dot = 0;
            for (int e = 0; e < d; e++) {
              dot += (double) q[i][h * d + e] * k[j][kh * d + e];
            }
            s[j] = dot / Math.sqrt(d);
            max = Math.max(max, s[j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            s[j] = Math.exp(s[j] - max);
            sum += s[j];
          }
          for (int e = 0; e < d; e++) {
            double acc = 0;
            for (int j = 0; j <= i; j++) {
              acc += s[j] / sum * v[j][kh * d + e];
            }
            att[h * d + e] = (float) acc;
          }
        }
        float[] o = lin(att, w.get(p + "self_attn.o_proj.weight"), null);
        for (int e = 0; e < c; e++) {
          x[i][e] += o[e];
        }
        float[] h2 = rms(x[i], w.get(p + "post_attention_layernorm.weight"));
        float[] gate = lin(h2, w.get(p + "mlp.gate_proj.weight"), null);
        float[] up = lin(h2, w.get(p + "mlp.up_proj.weight"), null);
        float[] act = new float[gate.length];
        for (int e = 0; e < act.length; e++) {
          double gs = gate[e] / (1 + Math.exp(-gate[e]));
          act[e] = (float) (gs * up[e]);
        }
        float[] down = lin(act, w.get(p + "mlp.down_proj.weight"), null);
        for (int e = 0; e < c; e++) {
          x[i][e] += down[e];
        }
      }
    }
    float[][] logits = new float[len][];
    for (int i = 0; i < len; i++) {
      float[] h = rms(x[i], w.get("model.norm.weight"));
      logits[i] = head(h);
    }
    return logits;
  }

  /** {@code h · [lm_head; T_out; H_out; W_out]ᵀ}. */
  float[] head(float[] h) {
    int c = cfg.hiddenSize();
    int v = cfg.vocabSize();
    int bins = cfg.numCoordinateBins();
    float[] out = new float[v + 3 * bins];
    float[] lm = w.get("lm_head.weight");
    for (int r = 0; r < v; r++) {
      out[r] = dot(h, lm, r * c);
    }
    String[] t = {"temporal", "spatial_height", "spatial_width"};
    for (int a = 0; a < 3; a++) {
      float[] tab = w.get("model." + t[a] + "_output_embeddings.weight");
      for (int k = 0; k < bins; k++) {
        out[v + a * bins + k] = dot(h, tab, k * c);
      }
    }
    return out;
  }

  static float[] slice(float[] a, int row, int c) {
    float[] r = new float[c];
    System.arraycopy(a, row * c, r, 0, c);
    return r;
  }

  static float dot(float[] h, float[] m, int off) {
    double s = 0;
    for (int e = 0; e < h.length; e++) {
      s += (double) h[e] * m[off + e];
    }
    return (float) s;
  }

  static float[] lin(float[] x, float[] wt, float[] b) {
    int out = wt.length / x.length;
    float[] y = new float[out];
    for (int r = 0; r < out; r++) {
      y[r] = dot(x, wt, r * x.length) + (b == null ? 0f : b[r]);
    }
    return y;
  }

  float[] rms(float[] x, float[] wt) {
    double ms = 0;
    for (float f : x) {
      ms += (double) f * f;
    }
    ms /= x.length;
    double inv = 1.0 / Math.sqrt(ms + cfg.rmsNormEps());
    float[] y = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = (float) (x[i] * inv * wt[i]);
    }
    return y;
  }

  /** Rotate-half RoPE at position {@code pos} on every head of {@code x [heads * d]}. */
  float[] rope(float[] x, int pos, int heads, int d) {
    float[] y = new float[x.length];
    int half = d / 2;
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        double angle = pos / Math.pow(cfg.ropeTheta(), 2.0 * i / d);
        double cs = Math.cos(angle);
        double sn = Math.sin(angle);
        float a = x[h * d + i];
        float b = x[h * d + half + i];
        y[h * d + i] = (float) (a * cs - b * sn);
        y[h * d + half + i] = (float) (b * cs + a * sn);
      }
    }
    return y;
  }
}

package dev.llavast.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Test-only {@link TensorSource}: every tensor a LLaVA-ST checkpoint of {@code cfg} has, filled
 * with seeded uniform noise (norm weights around 1, matrices scaled by 1/sqrt(fan-in)). Host arrays
 * are kept so tests can compute expected values in plain Java.
 */
public final class RandomWeights implements TensorSource {
  final Map<String, long[]> shapes = new LinkedHashMap<>();
  final Map<String, float[]> data = new LinkedHashMap<>();

  public RandomWeights(ModelConfig cfg, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    long c = cfg.hiddenSize();
    long qd = (long) cfg.numAttentionHeads() * cfg.headDim();
    long kvd = (long) cfg.numKeyValueHeads() * cfg.headDim();
    long im = cfg.intermediateSize();
    long v = cfg.vocabSize();
    long bins = cfg.numCoordinateBins();
    add(rng, "model.embed_tokens.weight", 1f, v, c);
    add(rng, "lm_head.weight", 1f, v, c);
    for (int i = 0; i < cfg.numHiddenLayers(); i++) {
      String p = "model.layers." + i + ".";
      norm(rng, p + "input_layernorm.weight", c);
      norm(rng, p + "post_attention_layernorm.weight", c);
      mat(rng, p + "self_attn.q_proj.weight", qd, c);
      add(rng, p + "self_attn.q_proj.bias", 0.1f, qd);
      mat(rng, p + "self_attn.k_proj.weight", kvd, c);
      add(rng, p + "self_attn.k_proj.bias", 0.1f, kvd);
      mat(rng, p + "self_attn.v_proj.weight", kvd, c);
      add(rng, p + "self_attn.v_proj.bias", 0.1f, kvd);
      mat(rng, p + "self_attn.o_proj.weight", c, qd);
      mat(rng, p + "mlp.gate_proj.weight", im, c);
      mat(rng, p + "mlp.up_proj.weight", im, c);
      mat(rng, p + "mlp.down_proj.weight", c, im);
    }
    norm(rng, "model.norm.weight", c);
    for (String t : new String[] {"temporal", "spatial_height", "spatial_width"}) {
      add(rng, "model." + t + "_input_embeddings.weight", 1f, bins, c);
      add(rng, "model." + t + "_output_embeddings.weight", 1f, bins, c);
    }
    ModelConfig.VisionConfig vc = cfg.vision();
    long cv = vc.hiddenSize();
    String vp = "model.vision_tower.vision_tower.vision_model.";
    add(
        rng,
        vp + "embeddings.patch_embedding.weight",
        0.05f,
        cv,
        3,
        vc.patchSize(),
        vc.patchSize());
    add(rng, vp + "embeddings.patch_embedding.bias", 0.1f, cv);
    add(rng, vp + "embeddings.position_embedding.weight", 0.5f, vc.numPatches(), cv);
    for (int i = 0; i < vc.numHiddenLayers(); i++) {
      String l = vp + "encoder.layers." + i + ".";
      for (String n : new String[] {"q", "k", "v", "out"}) {
        mat(rng, l + "self_attn." + n + "_proj.weight", cv, cv);
        add(rng, l + "self_attn." + n + "_proj.bias", 0.1f, cv);
      }
      norm(rng, l + "layer_norm1.weight", cv);
      add(rng, l + "layer_norm1.bias", 0.1f, cv);
      norm(rng, l + "layer_norm2.weight", cv);
      add(rng, l + "layer_norm2.bias", 0.1f, cv);
      mat(rng, l + "mlp.fc1.weight", vc.intermediateSize(), cv);
      add(rng, l + "mlp.fc1.bias", 0.1f, vc.intermediateSize());
      mat(rng, l + "mlp.fc2.weight", cv, vc.intermediateSize());
      add(rng, l + "mlp.fc2.bias", 0.1f, cv);
    }
    norm(rng, vp + "post_layernorm.weight", cv);
    add(rng, vp + "post_layernorm.bias", 0.1f, cv);
    mat(rng, "model.mm_projector.0.weight", c, cv);
    add(rng, "model.mm_projector.0.bias", 0.1f, c);
    mat(rng, "model.mm_projector.2.weight", c, c);
    add(rng, "model.mm_projector.2.bias", 0.1f, c);
    long e = cfg.stpEmbedDim();
    for (String packer : new String[] {"token_packer", "token_packer_slow", "token_packer_fast"}) {
      String p = "model.vision_resampler." + packer + ".devide_attention.";
      for (String n : new String[] {"to_q", "to_k", "to_v"}) {
        mat(rng, p + n + ".0.weight", e, c);
        add(rng, p + n + ".0.bias", 0.1f, e);
        mat(rng, p + n + ".2.weight", e, e);
        add(rng, p + n + ".2.bias", 0.1f, e);
      }
      for (String n : new String[] {"ln_q", "ln_k", "ln_v"}) {
        norm(rng, p + n + ".weight", e);
        add(rng, p + n + ".bias", 0.1f, e);
      }
      mat(rng, p + "attn.in_proj_weight", 3 * e, e);
      add(rng, p + "attn.in_proj_bias", 0.1f, 3 * e);
      mat(rng, p + "attn.out_proj.weight", e, e);
      add(rng, p + "attn.out_proj.bias", 0.1f, e);
      mat(rng, p + "to_out.weight", c, e);
    }
  }

  /** A small config with the real geometry (384 px, patch 14, 100 frames, 100 bins). */
  public static ModelConfig tinyConfig() {
    return new ModelConfig(
        32,
        2,
        4,
        2,
        64,
        1e-6,
        10000.0,
        64,
        4096,
        false,
        16,
        new ModelConfig.VisionConfig(16, 32, 2, 2, 378, 14, 1e-6),
        16,
        2,
        100,
        100,
        "float32");
  }

  public float[] get(String name) {
    float[] a = data.get(name);
    if (a == null) {
      throw new IllegalArgumentException("no tensor " + name);
    }
    return a;
  }

  /** Replaces a tensor's values (same size). */
  public void set(String name, float[] values) {
    if (get(name).length != values.length) {
      throw new IllegalArgumentException("size mismatch for " + name);
    }
    data.put(name, values);
  }

  private void mat(SplittableRandom rng, String name, long out, long in) {
    add(rng, name, (float) (1.0 / Math.sqrt(in)), out, in);
  }

  private void norm(SplittableRandom rng, String name, long n) {
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) {
      a[i] = 1f + (float) (rng.nextDouble() * 0.2 - 0.1);
    }
    shapes.put(name, new long[] {n});
    data.put(name, a);
  }

  private void add(SplittableRandom rng, String name, float scale, long... shape) {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
    }
    shapes.put(name, shape);
    data.put(name, a);
  }

  @Override
  public Set<String> names() {
    return shapes.keySet();
  }

  @Override
  public Optional<Shape> shape(String name) {
    long[] s = shapes.get(name);
    return s == null ? Optional.empty() : Optional.of(new Shape(s));
  }

  @Override
  public NDArray load(String name, NDManager manager, DataType dtype) {
    long[] s = shapes.get(name);
    if (s == null) {
      throw new IllegalArgumentException("no tensor " + name);
    }
    NDArray a = manager.create(data.get(name), new Shape(s));
    if (dtype != DataType.FLOAT32) {
      NDArray c = a.toType(dtype, false);
      a.close();
      return c;
    }
    return a;
  }
}

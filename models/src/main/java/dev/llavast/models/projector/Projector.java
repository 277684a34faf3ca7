package dev.llavast.models.projector;

import ai.djl.ndarray.NDArray;
import dev.llavast.models.CheckpointLayout;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;

/**
 * The multimodal projector {@code mlp2x_gelu} (spec §3): {@code Linear(Cv -> C) -> GELU(erf) ->
 * Linear(C -> C)}. Weights owned by the loader's manager. Worker thread only.
 */
public final class Projector {
  private final NDArray w0; // [C, Cv]
  private final NDArray b0; // [C]
  private final NDArray w2; // [C, C]
  private final NDArray b2; // [C]

  private Projector(NDArray w0, NDArray b0, NDArray w2, NDArray b2) {
    this.w0 = w0;
    this.b0 = b0;
    this.w2 = w2;
    this.b2 = b2;
  }

  public static Projector load(ModelConfig cfg, Weights w) {
    long c = cfg.hiddenSize();
    long cv = cfg.mmHiddenSize();
    return new Projector(
        w.load(CheckpointLayout.PROJECTOR_0_WEIGHT, c, cv),
            w.load(CheckpointLayout.PROJECTOR_0_BIAS, c),
        w.load(CheckpointLayout.PROJECTOR_2_WEIGHT, c, c),
            w.load(CheckpointLayout.PROJECTOR_2_BIAS, c));
  }

  /** {@code x [..., Cv]} -> {@code [..., C]} in x's manager. */
  public NDArray forward(NDArray x) {
    try (NDArray h = Ops.linear(x, w0, b0); // [..., C]
        NDArray g = Ops.geluErf(h)) { // [..., C]
      return Ops.linear(g, w2, b2); // [..., C]
    }
  }
}

package dev.llavast.models.packer;

import ai.djl.ndarray.NDArray;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Weights;

/**
 * STP as the release runs it for video (spec §5): stage A {@code token_packer} per frame, spatial G
 * x G -> G/3 x G/3 (queries rows/cols {1, 4, 7, ...}, regions the 3x3 blocks), then the "slow"
 * stage B {@code token_packer_slow}, temporal F -> F/5 (queries frames {2, 7, 12, ...}, regions
 * 5-frame windows of the same spatial token). The "fast" stream never reaches the LLM, so it is not
 * computed, and images skip STP entirely. Worker thread only.
 */
public final class SpatialTemporalPacker {
  public static final int SPATIAL_STRIDE = 3;
  public static final int TEMPORAL_STRIDE = 5;
  static final String PREFIX = "model.vision_resampler.";

  private final int grid;
  private final int hidden;
  private final RegionAttention spatial;
  private final RegionAttention slow;

  private SpatialTemporalPacker(
      int grid, int hidden, RegionAttention spatial, RegionAttention slow) {
    this.grid = grid;
    this.hidden = hidden;
    this.spatial = spatial;
    this.slow = slow;
  }

  public static SpatialTemporalPacker load(ModelConfig cfg, Weights w) {
    int grid = cfg.vision().gridSize();
    if (grid % SPATIAL_STRIDE != 0 || cfg.numFrames() % TEMPORAL_STRIDE != 0) {
      throw new IllegalArgumentException(
          "STP needs a grid divisible by 3 and num_frames divisible by 5, got grid "
              + grid
              + " and "
              + cfg.numFrames()
              + " frames");
    }
    return new SpatialTemporalPacker(
        grid,
        cfg.hiddenSize(),
        RegionAttention.load(cfg, w, PREFIX + "token_packer"),
        RegionAttention.load(cfg, w, PREFIX + "token_packer_slow"));
  }

  /** Packed tokens per frame after stage A ((G/3)², 81). */
  public int spatialTokens() {
    int s = grid / SPATIAL_STRIDE;
    return s * s;
  }

  /**
   * Stage A on a chunk of frames.
   *
   * @param x {@code [n, G*G, C]} (LAPE already added)
   * @return {@code [n, (G/3)², C]}, token {@code i·(G/3) + j} is the query at grid (3i+1, 3j+1)
   */
  public NDArray spatial(NDArray x) {
    long n = x.getShape().get(0);
    int s = grid / SPATIAL_STRIDE;
    long c = hidden;
    try (NDArray x6 = x.reshape(n, s, SPATIAL_STRIDE, s, SPATIAL_STRIDE, c); // [n, s, 3, s, 3, C]
        NDArray q4 = x6.get(":, :, 1, :, 1"); // [n, s, s, C]
        NDArray q = q4.reshape(n * s * s, c); // [n*s*s, C]
        NDArray regions = x6.transpose(0, 1, 3, 2, 4, 5); // [n, s, s, 3, 3, C]
        NDArray keys =
            regions.reshape(n * s * s, SPATIAL_STRIDE * SPATIAL_STRIDE, c); // [n*s*s, 9, C]
        NDArray out = spatial.forward(q, keys)) { // [n*s*s, C]
      return out.reshape(n, (long) s * s, c); // [n, s*s, C]
    }
  }

  /**
   * Stage B (slow) over all frames.
   *
   * @param a {@code [F, S, C]} stage-A output of every frame
   * @return {@code [(F/5)·S, C]}, row {@code g·S + s} is query frame {@code 5g+2}, token s
   */
  public NDArray slow(NDArray a) {
    long f = a.getShape().get(0);
    long s = a.getShape().get(1);
    long c = hidden;
    long groups = f / TEMPORAL_STRIDE;
    try (NDArray a4 = a.reshape(groups, TEMPORAL_STRIDE, s, c); // [F/5, 5, S, C]
        NDArray q3 = a4.get(":, 2"); // [F/5, S, C]
        NDArray q = q3.reshape(groups * s, c); // [F/5*S, C]
        NDArray win = a4.transpose(0, 2, 1, 3); // [F/5, S, 5, C]
        NDArray keys = win.reshape(groups * s, TEMPORAL_STRIDE, c)) { // [F/5*S, 5, C]
      return slow.forward(q, keys); // [F/5*S, C]
    }
  }
}

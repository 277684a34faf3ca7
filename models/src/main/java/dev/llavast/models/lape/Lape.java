package dev.llavast.models.lape;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.CheckpointLayout;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Weights;

/**
 * LAPE's visual injection (spec §4.3), added to the projector output before STP: {@code feat[t, r,
 * c] += H27[r] + W27[c] + Tinj[t]} with {@code Xinj = (X_input + X_output) / 2}, H and W resampled
 * bins -> grid (100 -> 27, half-pixel linear), temporal row {@code t} for frame {@code t} of a
 * video and row 0 for an image. The tables are computed once at load, owned by the weights'
 * manager. Worker thread only.
 */
public final class Lape {
  public static final String TEMPORAL_INPUT = CheckpointLayout.TEMPORAL_INPUT;
  public static final String TEMPORAL_OUTPUT = CheckpointLayout.TEMPORAL_OUTPUT;
  public static final String HEIGHT_INPUT = CheckpointLayout.HEIGHT_INPUT;
  public static final String HEIGHT_OUTPUT = CheckpointLayout.HEIGHT_OUTPUT;
  public static final String WIDTH_INPUT = CheckpointLayout.WIDTH_INPUT;
  public static final String WIDTH_OUTPUT = CheckpointLayout.WIDTH_OUTPUT;

  private final int grid;
  private final int hidden;
  private final NDArray spatial; // [grid, grid, C]: H27[r] + W27[c]
  private final NDArray temporal; // [bins, C]: (T_in + T_out) / 2

  private Lape(int grid, int hidden, NDArray spatial, NDArray temporal) {
    this.grid = grid;
    this.hidden = hidden;
    this.spatial = spatial;
    this.temporal = temporal;
  }

  /** Loads the six tables and precomputes the injection tables. */
  public static Lape load(ModelConfig cfg, Weights w) {
    int bins = cfg.numCoordinateBins();
    long c = cfg.hiddenSize();
    int grid = cfg.vision().gridSize();
    if (cfg.numFrames() > bins) {
      throw new IllegalArgumentException(
          "num_frames " + cfg.numFrames() + " exceeds the " + bins + " temporal LAPE rows");
    }
    NDArray t =
        w.mean2(w.load(TEMPORAL_INPUT, bins, c), w.load(TEMPORAL_OUTPUT, bins, c)); // [bins, C]
    NDArray h = w.mean2(w.load(HEIGHT_INPUT, bins, c), w.load(HEIGHT_OUTPUT, bins, c)); // [bins, C]
    NDArray wd = w.mean2(w.load(WIDTH_INPUT, bins, c), w.load(WIDTH_OUTPUT, bins, c)); // [bins, C]
    float[] m = LinearResample.of(bins, grid).matrix(bins);
    NDArray r32 = w.manager().create(m, new Shape(grid, bins)); // [grid, bins] fp32
    NDArray rCast = r32.toType(w.dtype(), false);
    if (rCast != r32) {
      r32.close();
    }
    try (NDArray r = rCast; // [grid, bins]
        NDArray h27 = r.matMul(h); // [grid, C]
        NDArray w27 = r.matMul(wd); // [grid, C]
        NDArray hCol = h27.reshape(grid, 1, c); // [grid, 1, C]
        NDArray wRow = w27.reshape(1, grid, c)) { // [1, grid, C]
      NDArray spatial = hCol.add(wRow); // [grid, grid, C]
      spatial.attach(w.manager());
      h.close();
      wd.close();
      return new Lape(grid, (int) c, spatial, t);
    }
  }

  /**
   * Adds the injection to {@code n} consecutive frames starting at {@code firstFrame} (0 for an
   * image).
   *
   * @param feat {@code [n, grid*grid, C]} projector output (not modified)
   * @return {@code [n, grid*grid, C]} in feat's manager
   */
  public NDArray inject(NDArray feat, int firstFrame) {
    long n = feat.getShape().get(0);
    try (NDArray f4 = feat.reshape(n, grid, grid, hidden); // [n, g, g, C]
        NDArray withPos = f4.add(spatial); // [n, g, g, C]
        NDArray rows = temporal.get(firstFrame + ":" + (firstFrame + n)); // [n, C]
        NDArray t4 = rows.reshape(n, 1, 1, hidden); // [n, 1, 1, C]
        NDArray sum = withPos.add(t4)) { // [n, g, g, C]
      return sum.reshape(n, (long) grid * grid, hidden); // [n, g*g, C]
    }
  }
}

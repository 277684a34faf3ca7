package dev.llavast.models;

import ai.djl.ndarray.types.Shape;
import java.util.Objects;

/**
 * A tensor a checkpoint must (or may) hold: its name exactly as in the spec (§11) and its shape.
 *
 * @param name e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param shape e.g. {@code [3584, 3584]}
 */
public record TensorSpec(String name, Shape shape) {
  public TensorSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(shape, "shape");
  }

  static TensorSpec of(String name, long... dims) {
    return new TensorSpec(name, new Shape(dims));
  }

  /** The shape as {@code [a, b, c]}. */
  public String shapeText() {
    return CheckpointLayout.format(shape.getShape());
  }
}

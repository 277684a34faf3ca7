package dev.llavast.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Optional;
import java.util.Set;

/**
 * Named weight tensors, as stored in a checkpoint (names exactly as in the spec, §11).
 *
 * <p>Implementations are thread-safe for reads. {@link #load} creates a new NDArray owned by the
 * given manager (the caller closes it through that manager).
 */
public interface TensorSource {

  /** Every tensor name present. */
  Set<String> names();

  /** Stored shape of {@code name}, or empty if absent. */
  Optional<Shape> shape(String name);

  /**
   * Loads tensor {@code name} into {@code manager}, converted to {@code dtype} (FLOAT32 or FLOAT16;
   * BF16 is converted in Java and never handed to DJL).
   *
   * @throws IllegalArgumentException if the tensor is absent
   */
  NDArray load(String name, NDManager manager, DataType dtype);
}

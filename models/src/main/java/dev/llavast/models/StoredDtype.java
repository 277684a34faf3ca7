package dev.llavast.models;

import ai.djl.ndarray.types.DataType;
import org.jspecify.annotations.Nullable;

/** Element types a checkpoint may store, with their safetensors names. */
public enum StoredDtype {
  F32("F32", 4),
  F16("F16", 2),
  BF16("BF16", 2);

  private final String safetensorsName;
  private final int bytes;

  StoredDtype(String safetensorsName, int bytes) {
    this.safetensorsName = safetensorsName;
    this.bytes = bytes;
  }

  /** The {@code dtype} string in a safetensors header ({@code F32}, {@code F16}, {@code BF16}). */
  public String safetensorsName() {
    return safetensorsName;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** The {@code torch_dtype} value of {@code config.json} for this dtype. */
  public String torchName() {
    switch (this) {
      case F32:
        return "float32";
      case F16:
        return "float16";
      default:
        return "bfloat16";
    }
  }

  /** Parses a safetensors dtype string, or returns null if it is not one of F32/F16/BF16. */
  static @Nullable StoredDtype fromSafetensors(String name) {
    for (StoredDtype d : values()) {
      if (d.safetensorsName.equals(name)) {
        return d;
      }
    }
    return null;
  }

  /**
   * The DJL type an array of this dtype is created as: BF16 is widened to FLOAT32 in Java first.
   */
  DataType djlLoadType() {
    return this == F16 ? DataType.FLOAT16 : DataType.FLOAT32;
  }
}

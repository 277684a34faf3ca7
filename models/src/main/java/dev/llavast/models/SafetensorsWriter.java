package dev.llavast.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes {@code .safetensors} files (the format {@link Checkpoint} reads): tensors in the given
 * order, the JSON header padded with spaces to a multiple of 8 bytes, data little-endian. Output
 * bytes are a pure function of the arguments. Stateless; any thread.
 */
public final class SafetensorsWriter {
  private static final ObjectMapper JSON = new ObjectMapper();

  private SafetensorsWriter() {}

  /** The values of a tensor, produced on demand so that none needs to be whole in memory. */
  @FunctionalInterface
  public interface Values {
    /** The float32 value of flat element {@code i} (row-major). */
    float at(long i);
  }

  /**
   * One tensor to write; its values are float32 and are rounded to {@code dtype} on write
   * (round-to-nearest-even for F16 and BF16).
   */
  public record Tensor(String name, StoredDtype dtype, long[] shape, Values values) {
    public Tensor {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(dtype, "dtype");
      Objects.requireNonNull(values, "values");
      shape = shape.clone();
      for (long d : shape) {
        if (d < 0) {
          throw new IllegalArgumentException(
              "tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
        }
      }
    }

    /** A tensor with its values in an array, which must hold exactly the shape's elements. */
    public Tensor(String name, StoredDtype dtype, long[] shape, float[] values) {
      this(name, dtype, shape, checked(name, shape, values));
    }

    private static Values checked(String name, long[] shape, float[] values) {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      if (n != values.length) {
        throw new IllegalArgumentException(
            "tensor '"
                + name
                + "': shape "
                + Arrays.toString(shape)
                + " needs "
                + n
                + " values, got "
                + values.length);
      }
      return i -> values[(int) i];
    }

    /** Elements of the shape. */
    public long count() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }

    /** Bytes this tensor occupies on disk. */
    public long byteLength() {
      return count() * dtype.bytes();
    }
  }

  /**
   * Writes {@code tensors} to {@code file} (replacing it), with {@code metadata} as {@code
   * __metadata__}.
   */
  public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    Map<String, Object> header = new LinkedHashMap<>();
    if (!metadata.isEmpty()) {
      header.put("__metadata__", new LinkedHashMap<>(metadata));
    }
    Set<String> seen = new HashSet<>();
    long offset = 0;
    for (Tensor t : tensors) {
      if (!seen.add(t.name())) {
        throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
      }
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("dtype", t.dtype().safetensorsName());
      e.put("shape", t.shape());
      e.put("data_offsets", new long[] {offset, offset + t.byteLength()});
      header.put(t.name(), e);
      offset += t.byteLength();
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    byte[] headerBytes = Arrays.copyOf(json, padded);
    Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer lead = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
      writeFully(ch, lead.flip());
      writeFully(ch, ByteBuffer.wrap(headerBytes));
      ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      for (Tensor t : tensors) {
        long n = t.count();
        for (long i = 0; i < n; i++) {
          float v = t.values().at(i);
          if (buf.remaining() < 4) {
            writeFully(ch, buf.flip());
            buf.clear();
          }
          switch (t.dtype()) {
            case F32:
              buf.putFloat(v);
              break;
            case F16:
              buf.putShort(HalfFloats.floatToHalf(v));
              break;
            default:
              buf.putShort(HalfFloats.floatToBf16(v));
          }
        }
      }
      writeFully(ch, buf.flip());
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }
}

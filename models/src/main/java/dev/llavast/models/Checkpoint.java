package dev.llavast.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A LLaVA-ST checkpoint directory in the official Hugging Face layout: {@code model.safetensors},
 * or shards {@code model-0000X-of-0000N.safetensors} listed by {@code
 * model.safetensors.index.json}.
 *
 * <p>Only headers are read at {@link #open}. Tensor data is memory-mapped per load, in windows of
 * at most {@value #CHUNK_BYTES} bytes (so shards and tensors over 2 GiB work), copied into the
 * target NDArray and unmapped before {@link #load} returns: no mapping outlives a call, and
 * NDArrays never point into the file. BF16 is widened to float32 in Java and never handed to DJL
 * (it aborts the JVM in DJL 0.36 / PyTorch 2.7.1).
 *
 * <p>Thread-safe for concurrent reads; {@link #close} must not race with a read.
 */
public final class Checkpoint implements TensorSource, AutoCloseable {
  /** Single-file weights. */
  public static final String SINGLE_FILE = "model.safetensors";

  /** Shard index (HF {@code save_pretrained}). */
  public static final String INDEX_FILE = "model.safetensors.index.json";

  static final int CHUNK_BYTES = 256 << 20;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final @Nullable Method INVOKE_CLEANER;
  private static final @Nullable Object UNSAFE;

  static {
    Method m = null;
    Object u = null;
    try {
      Class<?> c = Class.forName("sun.misc.Unsafe");
      Field f = c.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      u = f.get(null);
      m = c.getMethod("invokeCleaner", ByteBuffer.class);
    } catch (ReflectiveOperationException | RuntimeException e) {
      // no explicit unmapping: mappings are released by the GC instead
      m = null;
      u = null;
    }
    INVOKE_CLEANER = m;
    UNSAFE = u;
  }

  private final Path directory;
  private final Map<String, SafetensorsFile.Entry> entries;
  private final Map<Path, FileChannel> channels;
  private final int chunkBytes;

  private Checkpoint(
      Path directory,
      Map<String, SafetensorsFile.Entry> entries,
      Map<Path, FileChannel> channels,
      int chunkBytes) {
    this.directory = directory;
    this.entries = entries;
    this.channels = channels;
    this.chunkBytes = chunkBytes;
  }

  /**
   * Opens the checkpoint in {@code dir}: reads the shard index (if any) and every shard's header.
   *
   * @throws IOException if no weights file is found, a header is malformed, or the index names a
   *     tensor or shard that does not exist (all such problems in one message)
   */
  public static Checkpoint open(Path dir) throws IOException {
    return open(dir, CHUNK_BYTES);
  }

  /**
   * As {@link #open(Path)}, mapping at most {@code chunkBytes} per window (tests use small
   * windows).
   */
  static Checkpoint open(Path dir, int chunkBytes) throws IOException {
    Path index = dir.resolve(INDEX_FILE);
    Path single = dir.resolve(SINGLE_FILE);
    Map<String, SafetensorsFile.Entry> entries = new LinkedHashMap<>();
    List<Path> files = new ArrayList<>();
    if (Files.isRegularFile(index)) {
      JsonNode root = JSON.readTree(index.toFile());
      JsonNode weightMap = root == null ? null : root.get("weight_map");
      if (weightMap == null || !weightMap.isObject()) {
        throw new IOException(index + ": no \"weight_map\" object");
      }
      Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
      List<String> problems = new ArrayList<>();
      for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
        String shardName = e.getValue().asText();
        Path base = dir.toAbsolutePath().normalize();
        Path shardPath = base.resolve(shardName).normalize();
        if (!base.equals(shardPath.getParent())) {
          problems.add(
              "tensor "
                  + e.getKey()
                  + " maps to shard '"
                  + shardName
                  + "' outside the checkpoint directory");
          continue;
        }
        SafetensorsFile shard = shards.get(shardName);
        if (shard == null && !shards.containsKey(shardName)) {
          if (!Files.isRegularFile(shardPath)) {
            problems.add("shard " + shardName + " (named by " + INDEX_FILE + ") does not exist");
            shards.put(shardName, null);
            continue;
          }
          shard = SafetensorsFile.read(shardPath);
          shards.put(shardName, shard);
          files.add(shardPath);
        }
        if (shard == null) {
          continue;
        }
        SafetensorsFile.Entry entry = shard.entries().get(e.getKey());
        if (entry == null) {
          problems.add(
              "tensor "
                  + e.getKey()
                  + " is listed in "
                  + INDEX_FILE
                  + " under "
                  + shardName
                  + " but that shard does not contain it");
        } else {
          entries.put(e.getKey(), entry);
        }
      }
      if (!problems.isEmpty()) {
        throw new IOException(
            new CheckpointException("inconsistent shard index in " + dir, problems).getMessage());
      }
    } else if (Files.isRegularFile(single)) {
      SafetensorsFile f = SafetensorsFile.read(single);
      entries.putAll(f.entries());
      files.add(single);
    } else {
      throw new IOException("no " + SINGLE_FILE + " or " + INDEX_FILE + " in " + dir);
    }
    Map<Path, FileChannel> channels = new LinkedHashMap<>();
    try {
      for (Path f : files) {
        channels.put(f, FileChannel.open(f, StandardOpenOption.READ));
      }
    } catch (IOException e) {
      for (FileChannel ch : channels.values()) {
        ch.close();
      }
      throw e;
    }
    return new Checkpoint(dir, Collections.unmodifiableMap(entries), channels, chunkBytes);
  }

  /** The directory this checkpoint was opened from. */
  public Path directory() {
    return directory;
  }

  @Override
  public Set<String> names() {
    return entries.keySet();
  }

  @Override
  public Optional<Shape> shape(String name) {
    SafetensorsFile.Entry e = entries.get(name);
    return e == null ? Optional.empty() : Optional.of(new Shape(e.shape()));
  }

  /** Stored dtype of {@code name}; empty if absent or not F32/F16/BF16. */
  public Optional<StoredDtype> dtype(String name) {
    SafetensorsFile.Entry e = entries.get(name);
    return e == null ? Optional.empty() : Optional.ofNullable(e.dtype());
  }

  /**
   * Every mismatch between this checkpoint and what {@code config} needs (spec §11): missing
   * tensors, wrong shapes, unsupported dtypes. Extra tensors are ignored. Empty when the checkpoint
   * fits.
   */
  public List<String> problems(ModelConfig config) {
    List<String> problems = new ArrayList<>();
    for (TensorSpec spec : CheckpointLayout.requiredTensors(config)) {
      SafetensorsFile.Entry e = entries.get(spec.name());
      if (e == null) {
        problems.add(
            "missing tensor " + spec.name() + " (expected shape " + spec.shapeText() + ")");
        continue;
      }
      if (!Arrays.equals(e.shape(), spec.shape().getShape())) {
        problems.add(
            "tensor "
                + spec.name()
                + " has shape "
                + CheckpointLayout.format(e.shape())
                + ", expected "
                + spec.shapeText());
      }
      if (e.dtype() == null) {
        problems.add(
            "tensor "
                + spec.name()
                + " has dtype "
                + e.dtypeName()
                + "; supported: F32, F16, BF16");
      }
    }
    return problems;
  }

  /**
   * Checks every required tensor's presence, shape and dtype for {@code config}.
   *
   * @throws CheckpointException listing every problem, if there is any
   */
  public void validate(ModelConfig config) {
    List<String> problems = problems(config);
    if (!problems.isEmpty()) {
      throw new CheckpointException(
          "checkpoint " + directory + " does not match its config", problems);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>The result is a fresh array (it does not point into the file), owned by {@code manager}.
   */
  @Override
  public NDArray load(String name, NDManager manager, DataType dtype) {
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
      throw new IllegalArgumentException(
          "tensor " + name + ": can load as FLOAT32 or FLOAT16, not " + dtype);
    }
    SafetensorsFile.Entry e = requireEntry(name);
    long[] dims = e.shape();
    long count = e.elementCount();
    long rows = dims.length == 0 ? 1 : dims[0];
    long rowElems = rows == 0 ? 0 : count / rows;
    if (count == 0) {
      return manager.create(new Shape(dims), dtype);
    }
    long rowsPerChunk = Math.max(1, chunkBytes / (rowElems * 4));
    if (rowElems * 4 > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "tensor " + name + ": a row of " + rowElems + " elements exceeds 2 GiB");
    }
    // One chunk: its copy is the result. More: the result is allocated once and each chunk is
    // copied into its rows and freed at once, so a tensor never exists twice (a 7B-wide embedding
    // is 2.2 GB in fp32) and no widened BF16 buffer waits for the GC.
    boolean chunked = rows > rowsPerChunk;
    @Nullable NDArray out = chunked ? manager.create(new Shape(dims), dtype) : null; // [dims]
    try {
      for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
        long nRows = Math.min(rowsPerChunk, rows - r0);
        long[] partDims = dims.length == 0 ? dims : dims.clone();
        if (dims.length > 0) {
          partDims[0] = nRows;
        }
        long off = r0 * rowElems * e.readableDtype().bytes();
        int len = Math.toIntExact(nRows * rowElems * e.readableDtype().bytes());
        MappedByteBuffer mapped = map(e, off, len);
        ByteBuffer widened = null;
        try {
          ByteBuffer data = mapped;
          if (e.dtype() == StoredDtype.BF16) {
            widened = ByteBuffer.allocateDirect(len * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < len; i += 2) {
              widened.putFloat(HalfFloats.bf16ToFloat(mapped.getShort(i)));
            }
            widened.flip();
            data = widened;
          }
          NDArray view = manager.create(data, new Shape(partDims), e.readableDtype().djlLoadType());
          try {
            if (!chunked) {
              // the view may point at 'data' (DJL keeps a reference, no copy): an owned copy
              return view.getDataType() == dtype ? view.duplicate() : view.toType(dtype, true);
            }
            Objects.requireNonNull(out, "chunked")
                .set(new NDIndex("{}:{}", r0, r0 + nRows), view); // copies (and casts) the rows
          } finally {
            view.close();
          }
        } finally {
          unmap(mapped);
          if (widened != null) {
            free(widened);
          }
        }
      }
      return Objects.requireNonNull(out, "a tensor of more rows than a chunk is chunked");
    } catch (RuntimeException ex) {
      if (out != null) {
        out.close();
      }
      throw ex;
    }
  }

  /**
   * Reads tensor {@code name} into a host float32 array (row-major), converting F16/BF16 exactly.
   * For small tensors (tables, norms) and tests; any thread.
   *
   * @throws IllegalArgumentException if absent, of an unsupported dtype, or over 2^31 - 1 elements
   */
  public float[] readFloats(String name) {
    SafetensorsFile.Entry e = requireEntry(name);
    long count = e.elementCount();
    if (count > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "tensor " + name + " has " + count + " elements, too many for a float[]");
    }
    float[] out = new float[(int) count];
    int elemBytes = e.readableDtype().bytes();
    long perChunk = chunkBytes / elemBytes;
    for (long i0 = 0; i0 < count; i0 += perChunk) {
      int n = (int) Math.min(perChunk, count - i0);
      MappedByteBuffer mapped = map(e, i0 * elemBytes, n * elemBytes);
      try {
        for (int i = 0; i < n; i++) {
          int at = (int) i0 + i;
          switch (e.readableDtype()) {
            case F32:
              out[at] = mapped.getFloat(i * 4);
              break;
            case F16:
              out[at] = HalfFloats.halfToFloat(mapped.getShort(i * 2));
              break;
            default:
              out[at] = HalfFloats.bf16ToFloat(mapped.getShort(i * 2));
          }
        }
      } finally {
        unmap(mapped);
      }
    }
    return out;
  }

  private SafetensorsFile.Entry requireEntry(String name) {
    SafetensorsFile.Entry e = entries.get(name);
    if (e == null) {
      throw new IllegalArgumentException("tensor " + name + " is not in checkpoint " + directory);
    }
    if (e.dtype() == null) {
      throw new IllegalArgumentException(
          "tensor " + name + " has dtype " + e.dtypeName() + "; supported: F32, F16, BF16");
    }
    return e;
  }

  private MappedByteBuffer map(SafetensorsFile.Entry e, long offset, int length) {
    FileChannel ch = channels.get(e.file());
    if (ch == null) {
      throw new IllegalStateException("no open channel for " + e.file().getFileName());
    }
    try {
      MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, e.fileOffset() + offset, length);
      b.order(ByteOrder.LITTLE_ENDIAN);
      return b;
    } catch (IOException ex) {
      throw new UncheckedIOException(
          "cannot map " + length + " bytes of tensor " + e.name() + " in " + e.file(), ex);
    }
  }

  /** Frees a direct buffer now instead of at some later GC. */
  private static void free(ByteBuffer direct) {
    if (INVOKE_CLEANER != null) {
      try {
        INVOKE_CLEANER.invoke(UNSAFE, direct);
      } catch (ReflectiveOperationException ignored) {
        // left to the GC
      }
    }
  }

  private static void unmap(MappedByteBuffer buffer) {
    if (INVOKE_CLEANER != null) {
      try {
        INVOKE_CLEANER.invoke(UNSAFE, buffer);
      } catch (ReflectiveOperationException ignored) {
        // left to the GC
      }
    }
  }

  /** Closes the shard files. Arrays already loaded stay valid (they own their memory). */
  @Override
  public void close() throws IOException {
    IOException first = null;
    for (FileChannel ch : channels.values()) {
      try {
        ch.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}

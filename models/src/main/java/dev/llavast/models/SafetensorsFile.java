package dev.llavast.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The header of one {@code .safetensors} file: 8 bytes little-endian header length {@code N},
 * {@code N} bytes of JSON ({@code name -> {dtype, shape, data_offsets}} plus an optional {@code
 * __metadata__}), then the tensor bytes; {@code data_offsets} are relative to byte {@code 8 + N}.
 * Offsets are read as longs, so files over 2 GiB work. Immutable after {@link #read}.
 */
final class SafetensorsFile {
  /** Header size limit, as in the reference implementation (100 MB). */
  static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One tensor's location.
   *
   * @param dtypeName the header's dtype string
   * @param dtype the parsed dtype, or null if it is not F32/F16/BF16
   * @param shape the stored shape
   * @param fileOffset absolute byte offset of the first element in the file
   * @param byteLength bytes of data
   */
  record Entry(
      String name,
      Path file,
      String dtypeName,
      @Nullable StoredDtype dtype,
      long[] shape,
      long fileOffset,
      long byteLength) {
    /** The dtype of an entry the caller has already checked is readable. */
    StoredDtype readableDtype() {
      if (dtype == null) {
        throw new IllegalStateException("tensor '" + name + "' has unsupported dtype " + dtypeName);
      }
      return dtype;
    }

    long elementCount() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  private final Path file;
  private final Map<String, Entry> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path file, Map<String, Entry> entries, Map<String, String> metadata) {
    this.file = file;
    this.entries = entries;
    this.metadata = metadata;
  }

  Path file() {
    return file;
  }

  /** Tensors in header order. */
  Map<String, Entry> entries() {
    return entries;
  }

  Map<String, String> metadata() {
    return metadata;
  }

  /** Reads and checks the header of {@code file}; the data is not touched. */
  static SafetensorsFile read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) {
        throw new IOException(
            file + ": " + size + " bytes is too short for a safetensors file (needs >= 8)");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long headerLen = lenBuf.flip().getLong();
      if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
        throw new IOException(
            file
                + ": header length "
                + headerLen
                + " is invalid (file has "
                + size
                + " bytes, limit "
                + MAX_HEADER_BYTES
                + ")");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(ch, header, 8);
      long dataStart = 8 + headerLen;
      long dataSize = size - dataStart;
      JsonNode root;
      try {
        root = JSON.readTree(header.array());
      } catch (IOException e) {
        throw new IOException(file + ": header is not valid JSON: " + e.getMessage(), e);
      }
      if (root == null || !root.isObject()) {
        throw new IOException(file + ": header is not a JSON object");
      }
      Map<String, Entry> entries = new LinkedHashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> f : root.properties()) {
        String name = f.getKey();
        JsonNode v = f.getValue();
        if ("__metadata__".equals(name)) {
          if (v.isObject()) {
            v.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
          }
          continue;
        }
        entries.put(name, parseEntry(file, name, v, dataStart, dataSize));
      }
      return new SafetensorsFile(file, entries, metadata);
    }
  }

  private static Entry parseEntry(Path file, String name, JsonNode v, long dataStart, long dataSize)
      throws IOException {
    JsonNode dtypeNode = v.get("dtype");
    JsonNode shapeNode = v.get("shape");
    JsonNode offs = v.get("data_offsets");
    if (dtypeNode == null
        || !dtypeNode.isTextual()
        || shapeNode == null
        || !shapeNode.isArray()
        || offs == null
        || !offs.isArray()
        || offs.size() != 2) {
      throw new IOException(
          file
              + ": tensor '"
              + name
              + "' needs dtype (string), shape (array) and data_offsets"
              + " ([begin, end]); got "
              + v);
    }
    long[] shape = new long[shapeNode.size()];
    long count = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = shapeNode.get(i);
      if (!d.canConvertToLong() || d.asLong() < 0) {
        throw new IOException(file + ": tensor '" + name + "' has invalid shape " + shapeNode);
      }
      shape[i] = d.asLong();
      count = Math.multiplyExact(count, shape[i]);
    }
    long begin = offs.get(0).asLong(-1);
    long end = offs.get(1).asLong(-1);
    if (begin < 0 || end < begin || end > dataSize) {
      throw new IOException(
          file
              + ": tensor '"
              + name
              + "' data_offsets ["
              + begin
              + ", "
              + end
              + "] lie outside the data section of "
              + dataSize
              + " bytes");
    }
    String dtypeName = dtypeNode.asText();
    StoredDtype dtype = StoredDtype.fromSafetensors(dtypeName);
    if (dtype != null && count * dtype.bytes() != end - begin) {
      throw new IOException(
          file
              + ": tensor '"
              + name
              + "' is "
              + dtypeName
              + " "
              + shapeNode
              + " = "
              + count * dtype.bytes()
              + " bytes, but data_offsets span "
              + (end - begin)
              + " bytes");
    }
    return new Entry(name, file, dtypeName, dtype, shape, dataStart + begin, end - begin);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }
}

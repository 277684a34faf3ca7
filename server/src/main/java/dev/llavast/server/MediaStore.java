package dev.llavast.server;

import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.api.v1.MediaKind;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Uploaded media on local disk, addressed by content: the id is {@code sha256:<hex>} of the bytes
 * (for pre-decoded frames: of each frame's length and bytes, then the fps), so the same content
 * uploaded twice is stored once.
 *
 * <p>Bytes stream into a temporary file while they are hashed and counted; the size cap is enforced
 * as they arrive, so an oversized upload is refused without buffering it. Thread-safe: uploads run
 * concurrently on handler threads; an {@link Upload} itself is used by one call at a time (gRPC
 * serializes a call's messages).
 */
final class MediaStore implements AutoCloseable {
  private final Path dir;
  private final long maxBytes;
  private final boolean ownsDir;
  private final ConcurrentHashMap<String, StoredMedia> items = new ConcurrentHashMap<>();
  private final AtomicLong storedBytes = new AtomicLong();

  /**
   * @param dir where files live; empty means a fresh temporary directory deleted on close
   * @param maxBytes size cap of one item
   */
  MediaStore(Optional<Path> dir, long maxBytes) throws IOException {
    this.ownsDir = dir.isEmpty();
    this.dir = dir.isPresent() ? Files.createDirectories(dir.get()) : Files.createTempDirectory("llavast-media");
    this.maxBytes = maxBytes;
  }

  /** Starts an upload. The caller must end it with {@link Upload#finish} or {@link Upload#abort}. */
  Upload begin(MediaKind kind, String label, double framesFps) throws IOException {
    return new Upload(kind, label, framesFps);
  }

  /** Stores inline media (a request that carries its bytes) through the same path as an upload. */
  StoredMedia putInline(MediaKind kind, Iterable<ByteString> chunks, double framesFps, MediaProbe probe)
      throws IOException {
    Upload upload = begin(kind, "", framesFps);
    try {
      for (ByteString chunk : chunks) {
        upload.append(chunk);
      }
      return upload.finish(probe);
    } catch (IOException | RuntimeException e) {
      upload.abort();
      throw e;
    }
  }

  Optional<StoredMedia> get(String mediaId) {
    return Optional.ofNullable(items.get(mediaId));
  }

  /** Removes an item and its file; returns the bytes released, or empty if unknown. */
  Optional<Long> delete(String mediaId) {
    StoredMedia m = items.remove(mediaId);
    if (m == null) {
      return Optional.empty();
    }
    storedBytes.addAndGet(-m.sizeBytes());
    try {
      Files.deleteIfExists(m.file());
    } catch (IOException e) {
      throw new UncheckedIOException("could not delete " + m.file(), e);
    }
    return Optional.of(m.sizeBytes());
  }

  int count() {
    return items.size();
  }

  long storedBytes() {
    return storedBytes.get();
  }

  @Override
  public void close() throws IOException {
    if (ownsDir) {
      try (var files = Files.list(dir)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
    items.clear();
  }

  /** Reads what a stored file holds; for {@link MediaKind#MEDIA_KIND_FRAMES}, the encoded frames. */
  static java.util.List<byte[]> readFrames(Path file) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file));
    java.util.List<byte[]> frames = new java.util.ArrayList<>();
    while (buf.remaining() >= 4) {
      int n = buf.getInt();
      if (n < 0 || n > buf.remaining()) {
        throw new IOException("corrupt frames file " + file + ": frame length " + n);
      }
      byte[] f = new byte[n];
      buf.get(f);
      frames.add(f);
    }
    return frames;
  }

  /** One upload in progress. Not thread-safe; one call at a time. */
  final class Upload {
    private final MediaKind kind;
    private final String label;
    private final double framesFps;
    private final Path temp;
    private final OutputStream out;
    private final MessageDigest sha;
    private long size;
    private boolean done;

    private Upload(MediaKind kind, String label, double framesFps) throws IOException {
      this.kind = kind;
      this.label = label;
      this.framesFps = framesFps;
      this.temp = Files.createTempFile(dir, "upload-", ".part");
      this.out = Files.newOutputStream(temp);
      try {
        this.sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is required by every Java platform", e);
      }
    }

    /**
     * Appends one chunk (for frames: one whole encoded frame).
     *
     * @throws StatusRuntimeException RESOURCE_EXHAUSTED / MEDIA_TOO_LARGE past the cap (the upload
     *     is aborted)
     */
    void append(ByteString chunk) throws IOException {
      long added = chunk.size() + (kind == MediaKind.MEDIA_KIND_FRAMES ? 4 : 0);
      if (size + added > maxBytes) {
        abort();
        throw ApiErrors.builder(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_MEDIA_TOO_LARGE,
            "media exceeds the upload limit of " + maxBytes + " bytes")
            .metadata("limit_bytes", Long.toString(maxBytes))
            .build();
      }
      if (kind == MediaKind.MEDIA_KIND_FRAMES) {
        byte[] len = ByteBuffer.allocate(4).putInt(chunk.size()).array();
        sha.update(len);
        out.write(len);
      }
      for (ByteBuffer b : chunk.asReadOnlyByteBufferList()) {
        sha.update(b.duplicate());
      }
      chunk.writeTo(out);
      size += added;
    }

    long size() {
      return size;
    }

    /**
     * Completes the upload: names it by its hash, probes it (unless the same content is already
     * stored) and registers it.
     *
     * @throws StatusRuntimeException INVALID_ARGUMENT / MEDIA_INVALID if empty or undecodable
     */
    StoredMedia finish(MediaProbe probe) throws IOException {
      out.close();
      if (size == 0) {
        abort();
        throw ApiErrors.of(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MEDIA_INVALID, "the upload holds no bytes");
      }
      if (kind == MediaKind.MEDIA_KIND_FRAMES) {
        sha.update(ByteBuffer.allocate(8).putDouble(framesFps).array());
      }
      String id = "sha256:" + HexFormat.of().formatHex(sha.digest());
      StoredMedia existing = items.get(id);
      if (existing != null) {
        abort();
        return existing.asAlreadyPresent();
      }
      MediaMetadata meta;
      try {
        meta = probe.probe(kind, temp, framesFps);
      } catch (RuntimeException e) {
        abort();
        throw e;
      }
      Path file = dir.resolve(id.substring("sha256:".length()));
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
      done = true;
      StoredMedia stored = new StoredMedia(id, kind, label, file, size, meta, false);
      StoredMedia raced = items.putIfAbsent(id, stored);
      if (raced != null) {
        return raced.asAlreadyPresent(); // the same content finished concurrently; same file name
      }
      storedBytes.addAndGet(size);
      return stored;
    }

    /** Drops the partial upload. Idempotent. */
    void abort() {
      if (done) {
        return;
      }
      done = true;
      try {
        out.close();
        Files.deleteIfExists(temp);
      } catch (IOException e) {
        throw new UncheckedIOException("could not remove partial upload " + temp, e);
      }
    }
  }

  /** Decodes just enough of a stored file to know what it is. Implementations must be thread-safe. */
  interface MediaProbe {
    /**
     * @throws StatusRuntimeException INVALID_ARGUMENT / MEDIA_INVALID or MEDIA_TOO_LARGE
     */
    MediaMetadata probe(MediaKind kind, Path file, double framesFps);
  }

  /** What a probe learned. Durations in seconds, sizes in pixels of the original media. */
  record MediaMetadata(double durationSeconds, long frameCount, double fps, int widthPx, int heightPx) {}

  /** One stored item. Immutable. */
  record StoredMedia(String mediaId, MediaKind kind, String label, Path file, long sizeBytes, MediaMetadata meta,
      boolean alreadyPresent) {
    StoredMedia asAlreadyPresent() {
      return new StoredMedia(mediaId, kind, label, file, sizeBytes, meta, true);
    }
  }
}

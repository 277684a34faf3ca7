package dev.llavast.server.media;

import dev.llavast.models.media.DecodedMedia;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.tenancy.Tenant;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
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
public final class MediaStore implements AutoCloseable {
  private final Path dir;
  private final long maxBytes;
  private final boolean ownsDir;
  private final ConcurrentHashMap<String, StoredMedia> items = new ConcurrentHashMap<>();
  private final AtomicLong storedBytes = new AtomicLong();

  /**
   * @param dir where files live; empty means a fresh temporary directory deleted on close
   * @param maxBytes size cap of one item
   */
  public MediaStore(Optional<Path> dir, long maxBytes) throws IOException {
    this.ownsDir = dir.isEmpty();
    this.dir =
        dir.isPresent()
            ? Files.createDirectories(dir.get())
            : Files.createTempDirectory("llavast-media");
    this.maxBytes = maxBytes;
  }

  /**
   * Starts an upload into {@code tenant}'s namespace. The caller must end it with {@link
   * Upload#finish} or {@link Upload#abort}.
   */
  public Upload begin(Tenant tenant, DecodedMedia.Kind kind, String label, double framesFps)
      throws IOException {
    return new Upload(tenant, kind, label, framesFps);
  }

  /** Stores inline media (a request that carries its bytes) through the same path as an upload. */
  public StoredMedia putInline(
      Tenant tenant,
      DecodedMedia.Kind kind,
      Iterable<ByteBuffer> chunks,
      double framesFps,
      MediaProbe probe)
      throws IOException {
    Upload upload = begin(tenant, kind, "", framesFps);
    try {
      for (ByteBuffer chunk : chunks) {
        upload.append(chunk);
      }
      return upload.finish(probe);
    } catch (IOException | RuntimeException e) {
      upload.abort();
      throw e;
    }
  }

  /**
   * {@link #putInline} on {@code pool} (storing and probing are blocking work). Never blocks.
   *
   * @return completes with the stored media, or fails with an {@link ApiException}: the media's own
   *     failure, or OVERLOADED when the pool refuses more work
   */
  public CompletableFuture<StoredMedia> putInlineAsync(
      Tenant tenant,
      DecodedMedia.Kind kind,
      Iterable<ByteBuffer> chunks,
      double framesFps,
      MediaProbe probe,
      Executor pool) {
    try {
      return CompletableFuture.supplyAsync(
          () -> {
            try {
              return putInline(tenant, kind, chunks, framesFps, probe);
            } catch (IOException e) {
              throw new UncheckedIOException("could not store the media", e);
            }
          },
          pool);
    } catch (RejectedExecutionException e) {
      return CompletableFuture.failedFuture(
          ApiException.overloaded(
              "too many media items are being probed; retry later", Duration.ofSeconds(1)));
    }
  }

  /** {@code tenant}'s item with this id; another tenant's item with the same content is not it. */
  public Optional<StoredMedia> get(Tenant tenant, String mediaId) {
    return Optional.ofNullable(items.get(tenant.scope(mediaId)));
  }

  /**
   * Removes {@code tenant}'s item and its file (other tenants' copies of the same content stay);
   * returns the bytes released, or empty if {@code tenant} has no such item.
   */
  public Optional<Long> delete(Tenant tenant, String mediaId) {
    StoredMedia m = items.remove(tenant.scope(mediaId));
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

  public int count() {
    return items.size();
  }

  public long storedBytes() {
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

  /**
   * Reads what a stored file holds; for {@link DecodedMedia.Kind#MEDIA_KIND_FRAMES}, the encoded
   * frames.
   */
  public static java.util.List<byte[]> readFrames(Path file) throws IOException {
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
  public final class Upload {
    private final Tenant tenant;
    private final DecodedMedia.Kind kind;
    private final String label;
    private final double framesFps;
    private final Path temp;
    private final OutputStream out;
    private final MessageDigest sha;
    private long size;
    private boolean done;

    private Upload(Tenant tenant, DecodedMedia.Kind kind, String label, double framesFps)
        throws IOException {
      this.tenant = tenant;
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
     * @throws ApiException RESOURCE_EXHAUSTED / MEDIA_TOO_LARGE past the cap (the upload is
     *     aborted)
     */
    public void append(ByteBuffer chunk) throws IOException {
      int length = chunk.remaining();
      long added = length + (kind == DecodedMedia.Kind.FRAMES ? 4 : 0);
      if (size + added > maxBytes) {
        abort();
        throw ApiException.builder(
                Reason.MEDIA_TOO_LARGE, "media exceeds the upload limit of " + maxBytes + " bytes")
            .kind(Reason.Kind.RESOURCE_EXHAUSTED)
            .metadata("limit_bytes", Long.toString(maxBytes))
            .build();
      }
      if (kind == DecodedMedia.Kind.FRAMES) {
        byte[] len = ByteBuffer.allocate(4).putInt(length).array();
        sha.update(len);
        out.write(len);
      }
      sha.update(chunk.duplicate());
      if (chunk.hasArray()) {
        out.write(chunk.array(), chunk.arrayOffset() + chunk.position(), length);
      } else {
        byte[] copy = new byte[Math.min(length, 1 << 16)];
        for (ByteBuffer b = chunk.duplicate(); b.hasRemaining(); ) {
          int n = Math.min(copy.length, b.remaining());
          b.get(copy, 0, n);
          out.write(copy, 0, n);
        }
      }
      size += added;
    }

    public long size() {
      return size;
    }

    /**
     * Completes the upload: names it by its hash, probes it (unless the same content is already
     * stored) and registers it.
     *
     * @throws ApiException INVALID_ARGUMENT / MEDIA_INVALID if empty or undecodable
     */
    public StoredMedia finish(MediaProbe probe) throws IOException {
      out.close();
      if (size == 0) {
        abort();
        throw ApiException.of(Reason.MEDIA_INVALID, "the upload holds no bytes");
      }
      if (kind == DecodedMedia.Kind.FRAMES) {
        sha.update(ByteBuffer.allocate(8).putDouble(framesFps).array());
      }
      String hex = HexFormat.of().formatHex(sha.digest());
      String id = "sha256:" + hex;
      String key = tenant.scope(id);
      StoredMedia existing = items.get(key);
      if (existing != null && existing.kind() != kind) {
        abort(); // the same bytes under another kind would come back as what they were stored as
        throw ApiException.builder(
                Reason.MEDIA_INVALID,
                "these bytes are already stored as " + existing.kind() + ", not " + kind)
            .metadata("media_error", "KIND_MISMATCH")
            .metadata("detected_kind", existing.kind().name())
            .build();
      }
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
      // Each tenant has its own copy: a shared one would tell a tenant what another uploaded.
      Path file = dir.resolve(tenant.id().isEmpty() ? hex : tenant.id() + "-" + hex);
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
      done = true;
      StoredMedia stored = new StoredMedia(tenant, id, kind, label, file, size, meta, false);
      StoredMedia raced = items.putIfAbsent(key, stored);
      if (raced != null) {
        return raced.asAlreadyPresent(); // the same content finished concurrently; same file name
      }
      storedBytes.addAndGet(size);
      return stored;
    }

    /** Drops the partial upload. Idempotent. */
    public void abort() {
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

  /**
   * Decodes just enough of a stored file to know what it is. Implementations must be thread-safe.
   */
  public interface MediaProbe {
    /**
     * @throws ApiException INVALID_ARGUMENT / MEDIA_INVALID or MEDIA_TOO_LARGE
     */
    public MediaMetadata probe(DecodedMedia.Kind kind, Path file, double framesFps);
  }

  /** What a probe learned. Durations in seconds, sizes in pixels of the original media. */
  public record MediaMetadata(
      double durationSeconds, long frameCount, double fps, int widthPx, int heightPx) {}

  /**
   * One stored item of one tenant. Immutable.
   *
   * @param tenant whose item it is
   * @param mediaId the content hash the client knows it by
   */
  public record StoredMedia(
      Tenant tenant,
      String mediaId,
      DecodedMedia.Kind kind,
      String label,
      Path file,
      long sizeBytes,
      MediaMetadata meta,
      boolean alreadyPresent) {
    public StoredMedia asAlreadyPresent() {
      return new StoredMedia(tenant, mediaId, kind, label, file, sizeBytes, meta, true);
    }
  }
}

package dev.llavast.client;

import dev.llavast.api.v1.MediaKind;
import org.jspecify.annotations.Nullable;

/**
 * How {@link LlavaStClient#upload} sends a file.
 *
 * @param chunkBytes bytes per UploadMedia message (at most the server's {@code max_chunk_bytes})
 * @param kind media kind, or null to guess from the file extension (jpg/jpeg/png: image; else
 *     video)
 * @param label label sent to the server, or null for the file name
 * @param progress progress callback
 * @param skipIfPresent look the locally computed sha256 id up first and skip the upload if the
 *     server has it
 */
public record UploadOptions(
    int chunkBytes,
    @Nullable MediaKind kind,
    @Nullable String label,
    UploadProgress progress,
    boolean skipIfPresent) {
  public static final int DEFAULT_CHUNK_BYTES = 1 << 20;

  public UploadOptions {
    if (chunkBytes < 1) {
      throw new IllegalArgumentException("chunkBytes must be >= 1, got " + chunkBytes);
    }
    if (progress == null) {
      progress = UploadProgress.NONE;
    }
  }

  /** 1 MiB chunks, kind from the extension, file name as label, no progress, skip if present. */
  public static UploadOptions defaults() {
    return new UploadOptions(DEFAULT_CHUNK_BYTES, null, null, UploadProgress.NONE, true);
  }

  public UploadOptions withChunkBytes(int n) {
    return new UploadOptions(n, kind, label, progress, skipIfPresent);
  }

  public UploadOptions withKind(MediaKind k) {
    return new UploadOptions(chunkBytes, k, label, progress, skipIfPresent);
  }

  public UploadOptions withLabel(String l) {
    return new UploadOptions(chunkBytes, kind, l, progress, skipIfPresent);
  }

  public UploadOptions withProgress(UploadProgress p) {
    return new UploadOptions(chunkBytes, kind, label, p, skipIfPresent);
  }

  public UploadOptions withSkipIfPresent(boolean s) {
    return new UploadOptions(chunkBytes, kind, label, progress, s);
  }
}

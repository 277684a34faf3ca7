package dev.llavast.client;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Content ids as the server computes them: {@code "sha256:" + lowercase hex}. Stateless; any
 * thread.
 */
public final class MediaIds {
  public static final String PREFIX = "sha256:";

  private MediaIds() {}

  /** The media id of a file's bytes, reading it once in 1 MiB blocks. */
  public static String of(Path file) throws IOException {
    MessageDigest md = sha256();
    byte[] buf = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return PREFIX + HexFormat.of().formatHex(md.digest());
  }

  /** The media id of some bytes. */
  public static String of(byte[] bytes) {
    return PREFIX + HexFormat.of().formatHex(sha256().digest(bytes));
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java 17 runtime has SHA-256", e);
    }
  }
}

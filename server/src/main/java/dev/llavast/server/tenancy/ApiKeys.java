package dev.llavast.server.tenancy;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The API keys a server accepts and the tenant each belongs to, read from {@code --api-keys-file}:
 * one {@code <tenant> <key>} per line, {@code #} comments and blank lines ignored, keys of at least
 * 16 characters. Keys are kept as SHA-256 digests and compared in constant time; no key ever
 * reaches a log or an error message. Without a file the server has one open tenant. Immutable; any
 * thread.
 */
public final class ApiKeys {
  private static final int MIN_KEY_CHARS = 16;

  private record Entry(byte[] digest, Tenant tenant) {}

  private final List<Entry> entries;

  private ApiKeys(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** No keys: every call is the open tenant's. */
  public static ApiKeys open() {
    return new ApiKeys(List.of());
  }

  /**
   * Reads a keys file.
   *
   * @throws IllegalArgumentException naming the line at fault (never its key)
   */
  public static ApiKeys load(Path file) throws IOException {
    List<Entry> entries = new ArrayList<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split("\\s+");
      String where = file.getFileName() + ":" + (i + 1);
      if (parts.length != 2) {
        throw new IllegalArgumentException(where + ": expected '<tenant> <key>'");
      }
      if (parts[1].length() < MIN_KEY_CHARS) {
        throw new IllegalArgumentException(
            where + ": the key is shorter than " + MIN_KEY_CHARS + " characters");
      }
      Tenant tenant;
      try {
        tenant = new Tenant(parts[0]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
      }
      entries.add(new Entry(digest(parts[1]), tenant));
    }
    if (entries.isEmpty()) {
      throw new IllegalArgumentException(file.getFileName() + ": no key in the file");
    }
    return new ApiKeys(entries);
  }

  /** Whether calls must carry a key. */
  public boolean required() {
    return !entries.isEmpty();
  }

  /** How many tenants have keys (for the start log). */
  public long tenants() {
    return entries.stream().map(Entry::tenant).distinct().count();
  }

  /**
   * The tenant of an {@code authorization} header value ({@code Bearer <key>}).
   *
   * @throws ApiException UNAUTHENTICATED when keys are required and the header is missing or
   *     unknown
   */
  public Tenant authenticate(Optional<String> authorization) {
    if (!required()) {
      return Tenant.OPEN;
    }
    String h = authorization.orElse("").strip();
    if (!h.regionMatches(true, 0, "Bearer ", 0, 7) || h.length() <= 7) {
      throw ApiException.of(
          Reason.UNAUTHENTICATED,
          "this server needs an API key: send 'authorization: Bearer <key>'");
    }
    byte[] d = digest(h.substring(7).strip());
    Tenant found = null;
    for (Entry e :
        entries) { // every entry is compared, so the time does not depend on which matched
      if (MessageDigest.isEqual(e.digest(), d) && found == null) {
        found = e.tenant();
      }
    }
    if (found == null) {
      throw ApiException.of(Reason.UNAUTHENTICATED, "the API key is not valid for this server");
    }
    return found;
  }

  private static byte[] digest(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }
}

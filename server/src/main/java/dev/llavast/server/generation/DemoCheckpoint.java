package dev.llavast.server.generation;

import dev.llavast.models.TinyCheckpoints;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The demo default: a random-weight LLaVA-ST checkpoint in the official layout (the {@code tiny}
 * preset), written once into a cache directory, so a fresh clone serves real generations with no
 * download. Its answers are meaningless; the machinery is real. The server says so loudly.
 *
 * <p>Thread-safe and process-safe: the checkpoint is written into a temporary sibling directory and
 * moved into place atomically, so concurrent starts never see a half-written checkpoint.
 */
public final class DemoCheckpoint {
  /** The model name the demo reports. */
  public static final String MODEL_NAME = "llava-st-demo-tiny";

  /** Bump when the preset or the writer changes, so old caches are not reused. */
  public static final String VERSION = "v1";

  public static final long SEED = 2_501_08282L;
  private static final String COMPLETE_MARKER = ".complete";

  private DemoCheckpoint() {}

  /** {@code $LLAVAST_CACHE_DIR}, else {@code ~/.cache/llavast}. */
  public static Path defaultCacheRoot() {
    String env = System.getenv("LLAVAST_CACHE_DIR");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    return Path.of(System.getProperty("user.home"), ".cache", "llavast");
  }

  /** The demo checkpoint directory under {@code cacheRoot}, written if absent. */
  public static Path ensure(Path cacheRoot) throws IOException {
    Path dir = cacheRoot.resolve(MODEL_NAME + "-" + VERSION);
    if (Files.exists(dir.resolve(COMPLETE_MARKER))) {
      return dir;
    }
    Files.createDirectories(cacheRoot);
    Path tmp = Files.createTempDirectory(cacheRoot, MODEL_NAME + "-writing-");
    try {
      TinyCheckpoints.write(tmp, TinyCheckpoints.Preset.TINY, SEED);
      Files.createFile(tmp.resolve(COMPLETE_MARKER));
      try {
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
        // Another process finished first; use its copy if complete, else replace the broken one.
        if (!Files.exists(dir.resolve(COMPLETE_MARKER))) {
          deleteTree(dir);
          Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        }
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir);
      }
    } finally {
      if (Files.exists(tmp)) {
        deleteTree(tmp);
      }
    }
    return dir;
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}

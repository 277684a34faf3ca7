package dev.llavast.server.generation;

/**
 * The devices that {@code --devices} asks for cannot be used: the loaded libtorch has no CUDA, a
 * listed GPU does not exist, or its memory cannot be read or holds no KV pool. The message says
 * which and which variable or flag to set. The server exits with {@link #EXIT_CODE} on it, before
 * any weight is loaded where it can tell that early.
 */
public final class DeviceUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The server's exit status for it (EX_CONFIG in sysexits.h: a configuration error). */
  public static final int EXIT_CODE = 78;

  public DeviceUnavailableException(String message) {
    super(message);
  }
}

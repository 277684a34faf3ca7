package dev.llavast.client.bench;

/**
 * A server started inside the bench's JVM, so one command measures everything. The server module
 * provides an {@link Provider} through {@code
 * META-INF/services/dev.llavast.client.bench.EmbeddedServer$Provider}; this module does not depend
 * on it. Closing stops the server.
 */
public interface EmbeddedServer extends AutoCloseable {
  /** The gRPC target to connect to, e.g. {@code 127.0.0.1:43121}. */
  String target();

  /** Stops the server; implementations handle interruption themselves (no checked exception). */
  @Override
  void close();

  /** Starts embedded servers; found with {@link java.util.ServiceLoader}. */
  interface Provider {
    /** A short name, e.g. "llavast". */
    String name();

    /**
     * Starts a server with provider-specific options (e.g. {@code model=small}); blocks until it is
     * ready.
     */
    EmbeddedServer start(java.util.Map<String, String> options) throws Exception;
  }

  /** The provider with that name (or the only one when name is empty), from the class path. */
  static Provider find(String name) {
    java.util.List<Provider> all = new java.util.ArrayList<>();
    java.util.ServiceLoader.load(Provider.class).forEach(all::add);
    for (Provider p : all) {
      if (name.isEmpty() ? all.size() == 1 : p.name().equals(name)) {
        return p;
      }
    }
    throw new IllegalStateException(
        "no embedded server provider "
            + (name.isEmpty() ? "" : "named '" + name + "' ")
            + "on the class path (found "
            + all.stream().map(Provider::name).toList()
            + "); put the server module's jar on the class path or pass --target");
  }
}

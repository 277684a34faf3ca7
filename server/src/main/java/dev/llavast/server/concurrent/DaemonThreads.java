package dev.llavast.server.concurrent;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server's one thread factory: daemon threads named {@code <prefix>-<n>}, so no pool keeps the
 * JVM alive after the server has drained, and every thread says in a dump what it is for.
 */
public final class DaemonThreads {
  private DaemonThreads() {}

  /** A factory of daemon threads named {@code prefix-1}, {@code prefix-2}, ... Thread-safe. */
  public static ThreadFactory factory(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * As {@link #factory(String)}, each thread running at nice value {@code nice} (Linux; 0: the
   * normal priority), for background work that should yield a contended core to the rest of the
   * server. See {@link ThreadNice}. Thread-safe.
   */
  public static ThreadFactory factory(String prefix, int nice) {
    if (nice == 0) {
      return factory(prefix);
    }
    ThreadFactory plain = factory(prefix);
    return r ->
        plain.newThread(
            () -> {
              ThreadNice.applyToCurrentThread(nice);
              r.run();
            });
  }
}

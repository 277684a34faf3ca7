package dev.llavast.scheduler;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Picks the worker for a request or an encode job: the worker that most recently served the same
 * media key, unless it is overloaded, else the least loaded one (waiting + running tokens).
 *
 * <p>The affine worker counts as overloaded when it carries more than {@code slackTokens} more load
 * than the least loaded eligible worker, or when it already has queued work while another worker is
 * completely idle; so affinity never leaves a worker starving while another has a queue. Unhealthy
 * workers are chosen only when no worker is healthy (so a lone worker can recover); stopped ones
 * never.
 *
 * <p>Thread-safe: any thread.
 */
final class Dispatcher {
  private static final int MAX_KEYS = 65_536;

  private final Worker[] workers;
  private final long slackTokens;
  private final Map<String, Integer> lastWorker =
      new LinkedHashMap<>(256, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
          return size() > MAX_KEYS;
        }
      };

  Dispatcher(Worker[] workers, long slackTokens) {
    this.workers = workers;
    this.slackTokens = slackTokens;
  }

  /**
   * @param mediaKey the request's media, or {@code null}
   * @param eligible workers the request can run on at all
   * @return the chosen worker, or {@code null} if no healthy eligible worker exists
   */
  @Nullable Worker choose(@Nullable String mediaKey, Predicate<Worker> eligible) {
    @Nullable Worker best = null;
    long bestLoad = Long.MAX_VALUE;
    for (Worker w : workers) {
      if (!w.isHealthy() || !eligible.test(w)) {
        continue;
      }
      long load = w.load();
      if (load < bestLoad) {
        best = w;
        bestLoad = load;
      }
    }
    if (best == null) {
      // No healthy worker: fall back to a live unhealthy one, so that a lone worker can recover
      // (a successful step makes it healthy again). The server is not ready meanwhile.
      for (Worker w : workers) {
        if (w.isAlive() && eligible.test(w) && w.load() < bestLoad) {
          best = w;
          bestLoad = w.load();
        }
      }
      return best;
    }
    if (mediaKey == null) {
      return best;
    }
    Integer a;
    synchronized (lastWorker) {
      a = lastWorker.get(mediaKey);
    }
    if (a != null) {
      Worker aw = workers[a];
      if (aw != best && aw.isHealthy() && eligible.test(aw)) {
        long load = aw.load();
        boolean otherIdle = bestLoad == 0 && best.queuedCount() == 0;
        boolean affineQueued = aw.waitingLoad.get() > 0;
        if (load - bestLoad <= slackTokens && !(otherIdle && affineQueued)) {
          return aw;
        }
      }
    }
    return best;
  }

  /** Remembers that {@code worker} now serves {@code mediaKey}. */
  void served(@Nullable String mediaKey, int worker) {
    if (mediaKey == null) {
      return;
    }
    synchronized (lastWorker) {
      lastWorker.put(mediaKey, worker);
    }
  }
}

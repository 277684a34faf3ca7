package dev.llavast.server.observability;

import dev.llavast.scheduler.SchedulerStats;
import dev.llavast.server.concurrent.DaemonThreads;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells whether every worker loop is alive: a worker with work queued that made no progress (no
 * step, no encode) for longer than the stall timeout turns the process not live, which the liveness
 * probe reports so that Kubernetes restarts the pod. An idle worker is never stalled.
 *
 * <p>{@link #progress} is called from worker threads; {@link #isLive} from any thread; the check
 * runs once a second on the watchdog's own daemon thread.
 */
public final class LivenessWatchdog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LivenessWatchdog.class);

  private final AtomicLongArray lastProgressNanos;
  private final Duration stallTimeout;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.factory("worker-watchdog"));
  private volatile boolean live = true;

  public LivenessWatchdog(int workers, Duration stallTimeout) {
    this.lastProgressNanos = new AtomicLongArray(workers);
    this.stallTimeout = stallTimeout;
    long now = System.nanoTime();
    for (int i = 0; i < workers; i++) {
      lastProgressNanos.set(i, now);
    }
  }

  /** Starts the once-a-second check against {@code stats}. */
  public void start(Supplier<SchedulerStats> stats) {
    timer.scheduleAtFixedRate(() -> check(stats.get(), System.nanoTime()), 1, 1, TimeUnit.SECONDS);
  }

  /** Worker {@code index} made progress now. Worker threads. */
  public void progress(int index) {
    lastProgressNanos.set(index, System.nanoTime());
  }

  public boolean isLive() {
    return live;
  }

  /**
   * Seconds since worker {@code index} last made progress; 0 when it was idle at the last check.
   * Any thread.
   */
  public double secondsSinceProgress(int index) {
    return Math.max(0, System.nanoTime() - lastProgressNanos.get(index)) / 1e9;
  }

  /** One check at {@code now}; exposed for tests. */
  void check(SchedulerStats stats, long now) {
    try {
      boolean ok = true;
      for (SchedulerStats.WorkerStats w : stats.workers()) {
        boolean busy = w.running() + w.waiting() + w.pendingEncodes() > 0;
        if (!busy) {
          lastProgressNanos.set(w.index(), now); // an idle loop is not a stalled loop
        } else if (now - lastProgressNanos.get(w.index()) > stallTimeout.toNanos()) {
          ok = false;
          if (live) {
            log.error(
                "worker {} ({}) made no progress for more than {} s with work queued: liveness NOT_SERVING",
                w.index(),
                w.device(),
                stallTimeout.toSeconds());
          }
        }
      }
      live = ok;
    } catch (RuntimeException e) {
      log.warn("liveness check failed", e);
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}

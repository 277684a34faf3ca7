package dev.llavast.scheduler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@link Scheduler}: admission control, dispatch, workers, shutdown. Thread-safe. */
final class SchedulerImpl implements Scheduler {
  private static final Logger log = LoggerFactory.getLogger(SchedulerImpl.class);
  private static final long STOP_WAIT_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final Worker[] workers;
  private final Thread[] threads;
  private final Dispatcher dispatcher;
  private final Ticker ticker;
  private final QueueAccounting queue;
  private final ConcurrentHashMap<String, Sequence> inFlight = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private volatile boolean accepting = true;
  private final Object shutdownLock = new Object();
  private @Nullable Boolean shutdownResult; // guarded by shutdownLock

  SchedulerImpl(SchedulerBuilder b, List<ModelExecutor> executors) {
    this.ticker = b.ticker;
    this.queue = new QueueAccounting(b.maxQueuedRequests, b.maxQueuedPromptTokens, b.retryAfter);
    SchedulingPolicy policy =
        new SchedulingPolicy(
            b.maxBatchTokens,
            b.maxRunningSequences,
            b.encodesPerIteration,
            b.maxConsecutiveFailures,
            b.prefixCaching);
    workers = new Worker[executors.size()];
    for (int i = 0; i < workers.length; i++) {
      ModelExecutor ex = executors.get(i);
      int numBlocks = b.kvBlocks > 0 ? b.kvBlocks : blocksFromMemory(ex, b);
      workers[i] =
          new Worker(
              i,
              ex,
              queue,
              this::onEnded,
              numBlocks,
              b.blockSize,
              policy,
              b.ticker,
              b.listener,
              b.callbackExecutor,
              b.idlePoll.toNanos());
    }
    long slack = b.affinitySlackTokens >= 0 ? b.affinitySlackTokens : 4L * b.maxBatchTokens;
    dispatcher = new Dispatcher(workers, slack);
    threads = new Thread[workers.length];
    if (b.startThreads) {
      for (int i = 0; i < workers.length; i++) {
        Thread t = new Thread(workers[i], "llavast-worker-" + i + "-" + workers[i].device);
        t.setDaemon(true);
        threads[i] = t;
        t.start();
      }
    } else {
      for (Worker w : workers) {
        try {
          w.start();
        } catch (RuntimeException e) {
          // reported below through w.started
        }
      }
    }
    for (Worker w : workers) {
      try {
        w.started.join();
      } catch (RuntimeException e) {
        shutdown(Duration.ZERO);
        throw new IllegalStateException(
            "worker "
                + w.index
                + " ("
                + w.device
                + ") could not allocate its KV pool of "
                + w.totalBlocks()
                + " blocks",
            e.getCause() != null ? e.getCause() : e);
      }
    }
  }

  private static int blocksFromMemory(ModelExecutor ex, SchedulerBuilder b) {
    ExecutorSpec spec = ex.spec();
    if (spec.freeMemoryBytes() < 0) {
      throw new IllegalArgumentException(
          "device "
              + spec.deviceName()
              + " cannot report free memory; configure kvBlocks(n) explicitly");
    }
    int n = ex.kvBlocksFor((long) (spec.freeMemoryBytes() * b.kvMemoryFraction), b.blockSize);
    if (n <= 0) {
      throw new IllegalArgumentException(
          "device "
              + spec.deviceName()
              + " has room for no KV block: free "
              + spec.freeMemoryBytes()
              + " bytes x "
              + b.kvMemoryFraction
              + ", "
              + spec.kvBytesPerToken()
              + " bytes per token, block size "
              + b.blockSize);
    }
    return n;
  }

  // ---------------------------------------------------------------------------------- submit

  @Override
  public RequestHandle submit(GenerationRequest request, TokenSink sink) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(sink, "sink");
    if (!accepting) {
      throw new SchedulerUnavailableException(
          "scheduler is shutting down; request " + request.requestId() + " was not accepted");
    }
    int p = request.promptTokens();
    int maxNew = request.sampling().maxNewTokens();
    if (p > queue.maxTokens()) {
      throw new InvalidRequestException(
          "request "
              + request.requestId()
              + " has "
              + p
              + " prompt tokens, more than the queue may ever hold ("
              + queue.maxTokens()
              + ")");
    }
    boolean anyFits = false;
    Worker largest = workers[0];
    for (Worker w : workers) {
      anyFits |= w.fits(p, maxNew);
      if (w.totalBlocks() > largest.totalBlocks()) {
        largest = w;
      }
    }
    if (!anyFits) {
      throw new InvalidRequestException(
          "request "
              + request.requestId()
              + ": prompt of "
              + p
              + " tokens + maxNewTokens "
              + maxNew
              + " can never fit: context limit "
              + largest.maxContext
              + " tokens, KV pool "
              + largest.totalBlocks()
              + " blocks ("
              + (long) largest.totalBlocks() * largest.blockSize()
              + " token slots)");
    }
    queue.reserve(p);
    boolean held =
        false; // once a sequence holds the reservation, releasing it is the sequence's business
    try {
      Worker w = dispatcher.choose(request.mediaKey(), x -> x.fits(p, maxNew));
      if (w == null) {
        throw new SchedulerUnavailableException(
            "no healthy worker can take request " + request.requestId());
      }
      long id = ids.incrementAndGet();
      Sequence s = new Sequence(id, request, sink, id, ticker.read(), w.index, w::wakeUp);
      if (inFlight.putIfAbsent(request.requestId(), s) != null) {
        throw new DuplicateRequestException(request.requestId());
      }
      queue.hold(s, p, w.waitingLoad);
      held = true;
      if (!w.submit(s)) {
        queue.release(s);
        w.waitingLoad.set(s, 0);
        inFlight.remove(request.requestId(), s);
        throw new SchedulerUnavailableException(
            "worker " + w.index + " stopped; request " + request.requestId() + " was not accepted");
      }
      dispatcher.served(request.mediaKey(), w.index);
      request.prompt().whenComplete((prompt, error) -> w.promptReady(s, prompt, error));
      return s;
    } finally {
      if (!held) {
        queue.unreserve(p);
      }
    }
  }

  /** The sequence made its terminal callback. Worker thread. */
  private void onEnded(Sequence s) {
    inFlight.remove(s.requestId(), s);
  }

  @Override
  public boolean cancel(String requestId) {
    Sequence s = inFlight.get(requestId);
    return s != null && s.cancel();
  }

  // ---------------------------------------------------------------------------------- encode

  @Override
  public CompletableFuture<MediaFeatures> encode(PreparedMedia media, OptionalInt preferredWorker) {
    Objects.requireNonNull(media, "media");
    Objects.requireNonNull(preferredWorker, "preferredWorker");
    CompletableFuture<MediaFeatures> f = new CompletableFuture<>();
    if (!accepting) {
      f.completeExceptionally(
          new SchedulerUnavailableException(
              "scheduler is shutting down; encode of " + media.mediaKey() + " not accepted"));
      return f;
    }
    Worker w = null;
    if (preferredWorker.isPresent()) {
      int i = preferredWorker.getAsInt();
      if (i < 0 || i >= workers.length) {
        throw new IllegalArgumentException(
            "preferredWorker must be in [0, " + workers.length + "), got " + i);
      }
      if (workers[i].isHealthy()) {
        w = workers[i];
      }
    }
    if (w == null) {
      w = dispatcher.choose(media.mediaKey(), x -> true);
    }
    if (w == null) {
      f.completeExceptionally(
          new SchedulerUnavailableException("no healthy worker to encode " + media.mediaKey()));
      return f;
    }
    if (!w.encode(media, f)) {
      f.completeExceptionally(
          new SchedulerUnavailableException(
              "worker " + w.index + " stopped; encode of " + media.mediaKey() + " not accepted"));
      return f;
    }
    dispatcher.served(media.mediaKey(), w.index);
    return f;
  }

  // ---------------------------------------------------------------------------------- status

  @Override
  public SchedulerStats stats() {
    List<SchedulerStats.WorkerStats> ws = new ArrayList<>(workers.length);
    for (Worker w : workers) {
      ws.add(w.stats());
    }
    return new SchedulerStats(queue.queuedRequests(), queue.queuedTokens(), ws);
  }

  @Override
  public int workerCount() {
    return workers.length;
  }

  @Override
  public boolean isWorkerHealthy(int index) {
    if (index < 0 || index >= workers.length) {
      throw new IllegalArgumentException(
          "worker index must be in [0, " + workers.length + "), got " + index);
    }
    return workers[index].isHealthy();
  }

  @Override
  public boolean isReady() {
    if (!accepting) {
      return false;
    }
    for (Worker w : workers) {
      if (w.isHealthy()) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------------------------- shutdown

  @Override
  public boolean shutdown(Duration grace) {
    Objects.requireNonNull(grace, "grace");
    synchronized (shutdownLock) {
      if (shutdownResult != null) {
        return shutdownResult;
      }
      accepting = false;
      long deadline = System.nanoTime() + Math.max(0, grace.toNanos());
      boolean graceful = true;
      for (Worker w : workers) {
        w.draining = true;
        w.wakeUp();
      }
      boolean manual = threads[0] == null;
      if (manual) {
        for (Worker w : workers) {
          while (w.hasWork() && System.nanoTime() < deadline && w.isAlive()) {
            w.runOnce();
          }
          graceful &= !w.hasWork();
          w.stop(null);
        }
      } else {
        for (int i = 0; i < workers.length; i++) {
          graceful &= awaitQuietly(workers[i], deadline - System.nanoTime());
        }
        if (!graceful) {
          for (Worker w : workers) {
            w.abort = true;
            w.wakeUp();
          }
          for (int i = 0; i < workers.length; i++) {
            if (!awaitQuietly(workers[i], STOP_WAIT_NANOS)) {
              log.error(
                  "worker {} did not stop within {} s (stuck in the executor?)",
                  i,
                  TimeUnit.NANOSECONDS.toSeconds(STOP_WAIT_NANOS));
            }
          }
        }
      }
      shutdownResult = graceful;
      return graceful;
    }
  }

  private static boolean awaitQuietly(Worker w, long nanos) {
    try {
      return w.awaitTermination(Math.max(0, nanos));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  // ---------------------------------------------------------------------------------- tests

  /** For tests: worker {@code i}. */
  Worker worker(int i) {
    return workers[i];
  }

  /** For tests: requests in flight. */
  int inFlightCount() {
    return inFlight.size();
  }
}

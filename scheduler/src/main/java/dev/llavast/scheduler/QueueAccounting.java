package dev.llavast.scheduler;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every count of queued work, in one place: the scheduler-wide admission slots (requests and prompt
 * tokens that were accepted but never admitted to a batch, bounded by the queue limits) and each
 * worker's waiting load (tokens of its queued sequences, the dispatcher's measure), with what each
 * sequence holds in both.
 *
 * <p>Threading: {@link #reserve} and the totals may be used by any thread; the per-sequence methods
 * are called on the owning worker's thread (or by {@link Scheduler#submit} before the sequence is
 * posted).
 */
final class QueueAccounting {
  private final int maxRequests;
  private final long maxTokens;
  private final Duration retryAfter;
  private final Object lock = new Object();
  private volatile int requests; // written under lock
  private volatile long tokens; // written under lock

  QueueAccounting(int maxRequests, long maxTokens, Duration retryAfter) {
    this.maxRequests = maxRequests;
    this.maxTokens = maxTokens;
    this.retryAfter = retryAfter;
  }

  /** The most prompt tokens the queue may ever hold. */
  long maxTokens() {
    return maxTokens;
  }

  /**
   * Takes an admission slot of {@code promptTokens}. Any thread.
   *
   * @throws OverloadedException if the queue is full by count or by tokens
   */
  void reserve(int promptTokens) {
    synchronized (lock) {
      if (requests >= maxRequests) {
        throw new OverloadedException(
            "waiting queue is full: " + requests + " requests queued, limit " + maxRequests,
            retryAfter);
      }
      if (tokens + promptTokens > maxTokens) {
        throw new OverloadedException(
            "waiting queue is full: "
                + tokens
                + " prompt tokens queued + "
                + promptTokens
                + " exceeds the limit "
                + maxTokens,
            retryAfter);
      }
      requests++;
      tokens += promptTokens;
    }
  }

  /** Gives back a slot taken by {@link #reserve} that no sequence came to hold. Any thread. */
  void unreserve(int promptTokens) {
    synchronized (lock) {
      requests--;
      tokens -= promptTokens;
    }
  }

  /**
   * {@code s} now holds the slot reserved for it, and counts in {@code load}. Before it is posted.
   */
  void hold(Sequence s, int promptTokens, WaitingLoad load) {
    s.holdsQueueSlot = true;
    s.reservedTokens = promptTokens;
    load.set(s, promptTokens);
  }

  /** The pending prompt arrived with a different length than announced. Worker thread. */
  void adjust(Sequence s, int promptTokens) {
    if (s.holdsQueueSlot) {
      synchronized (lock) {
        tokens += promptTokens - s.reservedTokens;
      }
      s.reservedTokens = promptTokens;
    }
  }

  /** {@code s} leaves the queue for good (admitted or ended). Worker thread; idempotent. */
  void release(Sequence s) {
    if (s.holdsQueueSlot) {
      s.holdsQueueSlot = false;
      synchronized (lock) {
        requests--;
        tokens -= s.reservedTokens;
      }
      s.reservedTokens = 0;
    }
  }

  int queuedRequests() {
    return requests;
  }

  long queuedTokens() {
    return tokens;
  }

  /**
   * One worker's waiting load: the tokens of its sequences that are pending or waiting (preempted
   * ones count their whole length again). Written on the worker's thread (and by submit before a
   * post), read by any thread.
   */
  static final class WaitingLoad {
    private final AtomicLong total = new AtomicLong();

    /** {@code s} now counts {@code tokens} (0: it no longer waits). */
    void set(Sequence s, long tokens) {
      if (s.waitingLoad != tokens) {
        total.addAndGet(tokens - s.waitingLoad);
        s.waitingLoad = tokens;
      }
    }

    long get() {
      return total.get();
    }
  }
}

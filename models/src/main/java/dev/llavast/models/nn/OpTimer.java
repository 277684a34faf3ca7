package dev.llavast.models.nn;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where encode time goes, op by op: model code brackets each op with {@link #start()} and {@link
 * #stop}. {@link #NONE} costs two calls that do nothing. Wall time is only the op's own time on a
 * device that runs ops synchronously (the CPU); on a GPU it measures launches unless the caller
 * synchronizes. Confined to the thread that runs the model.
 */
public interface OpTimer {
  /** Times nothing. */
  OpTimer NONE =
      new OpTimer() {
        @Override
        public long start() {
          return 0;
        }

        @Override
        public void stop(String op, long started) {}
      };

  /** A start mark for {@link #stop}. */
  long start();

  /** Adds the time since {@code started} to {@code op}. */
  void stop(String op, long started);

  /** A timer that sums nanoseconds and calls per op name, in first-seen order. */
  static Recording recording() {
    return new Recording();
  }

  /** Sums per op; not thread-safe. */
  final class Recording implements OpTimer {
    private final Map<String, long[]> ops = new LinkedHashMap<>();

    private Recording() {}

    @Override
    public long start() {
      return System.nanoTime();
    }

    @Override
    public void stop(String op, long started) {
      long[] a = ops.computeIfAbsent(op, k -> new long[2]);
      a[0] += System.nanoTime() - started;
      a[1]++;
    }

    /** Op name to {@code {nanos, calls}}, in first-seen order (a copy). */
    public Map<String, long[]> totals() {
      Map<String, long[]> copy = new LinkedHashMap<>();
      ops.forEach((k, v) -> copy.put(k, v.clone()));
      return copy;
    }

    public void clear() {
      ops.clear();
    }
  }
}

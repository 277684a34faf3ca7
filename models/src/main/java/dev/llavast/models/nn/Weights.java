package dev.llavast.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.TensorSource;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads named weights from a {@link TensorSource} into one long-lived manager, checking shapes.
 *
 * <p>Every array returned is owned by {@link #manager()}; intermediate arrays (e.g. the parts of a
 * fused q|k|v matrix) are closed before returning. Single-threaded (the loading thread).
 */
public final class Weights {
  private static final Logger log = LoggerFactory.getLogger(Weights.class);
  private static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;

  private final TensorSource source;
  private final NDManager manager;
  private final DataType dtype;

  /**
   * Bytes every tensor of the source takes in {@code dtype} (what loading will bring to the
   * device).
   */
  private final long totalBytes;

  private final long startNanos = System.nanoTime();
  private long loadedBytes;
  private long lastReportNanos = startNanos;

  public Weights(TensorSource source, NDManager manager, DataType dtype) {
    this.source = source;
    this.manager = manager;
    this.dtype = dtype;
    long total = 0;
    for (String name : source.names()) {
      total += source.shape(name).map(Shape::size).orElse(0L) * dtype.getNumOfBytes();
    }
    this.totalBytes = total;
  }

  /**
   * Logs how far loading has come (bytes, rate, time left) at most every few seconds, so that a
   * multi-GB checkpoint does not look hung.
   */
  private void progress(long bytes) {
    loadedBytes += bytes;
    long now = System.nanoTime();
    if (now - lastReportNanos >= PROGRESS_EVERY_NANOS) {
      lastReportNanos = now;
      double seconds = (now - startNanos) / 1e9;
      double rate = loadedBytes / seconds;
      log.info(
          String.format(
              java.util.Locale.ROOT,
              "loading weights: %.2f of %.2f GB (%.0f MB/s, about %.0f s left)",
              loadedBytes / 1e9,
              totalBytes / 1e9,
              rate / 1e6,
              Math.max(0, totalBytes - loadedBytes) / Math.max(1, rate)));
    }
  }

  /**
   * Ends loading: one line with the size and the time it took when it took long enough to matter.
   */
  public void finish() {
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    if (seconds >= PROGRESS_EVERY_NANOS / 1e9) {
      log.info(
          String.format(
              java.util.Locale.ROOT,
              "loaded %.2f GB of weights in %.1f s (%.0f MB/s)",
              loadedBytes / 1e9,
              seconds,
              loadedBytes / seconds / 1e6));
    }
  }

  public NDManager manager() {
    return manager;
  }

  public DataType dtype() {
    return dtype;
  }

  /** Whether {@code name} exists in the source. */
  public boolean has(String name) {
    return source.shape(name).isPresent();
  }

  /**
   * Loads {@code name}, which must have exactly {@code shape}.
   *
   * @throws IllegalArgumentException naming the tensor, its stored shape and the expected one
   */
  public NDArray load(String name, long... shape) {
    Shape expected = new Shape(shape);
    Shape stored =
        source
            .shape(name)
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "weight " + name + " is missing (expected shape " + expected + ")"));
    if (!stored.equals(expected)) {
      throw new IllegalArgumentException(
          "weight " + name + " has shape " + stored + ", expected " + expected);
    }
    NDArray a = source.load(name, manager, dtype);
    if (a.getDataType() != dtype) {
      NDArray c = a.toType(dtype, false);
      a.close();
      a = c;
    }
    a.attach(manager);
    progress(a.size() * dtype.getNumOfBytes());
    return a;
  }

  /** Loads several tensors and concatenates them along axis 0 (e.g. q|k|v), closing the parts. */
  public NDArray loadConcat(List<String> names, List<long[]> shapes) {
    List<NDArray> parts = new ArrayList<>();
    try (NDManager tmp = manager.newSubManager()) {
      for (int i = 0; i < names.size(); i++) {
        NDArray p = load(names.get(i), shapes.get(i));
        p.attach(tmp);
        parts.add(p);
      }
      NDArray cat = NDArrays.concat(new NDList(parts), 0);
      cat.attach(manager);
      return cat;
    }
  }

  /**
   * {@code (a + b) / 2} of two same-shaped tensors, owned by the manager; the inputs are closed.
   */
  public NDArray mean2(NDArray a, NDArray b) {
    NDArray sum = a.add(b);
    NDArray out = sum.div(2f);
    sum.close();
    a.close();
    b.close();
    out.attach(manager);
    return out;
  }
}

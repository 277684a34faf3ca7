package dev.llavast.scheduler;

import org.jspecify.annotations.Nullable;

/**
 * One encode in progress on an executor, run a slice at a time so that a worker can interleave it
 * with the steps of running sequences (a 100-frame video is seconds of work; a decode step is
 * milliseconds). The task owns whatever device memory its partial results hold, until it finishes
 * or is closed.
 *
 * <p><b>Threading.</b> Created, advanced and closed only on the worker thread that owns the
 * executor, never concurrently with the executor's other methods.
 */
public interface EncodeTask extends AutoCloseable {

  /**
   * Runs the next slice of the encode (for a vision tower: one layer of one chunk of frames).
   *
   * @return the features once the last slice ran (the caller owns them), else null
   * @throws ExecutorException if encoding fails; the task is then finished and only needs closing
   */
  @Nullable MediaFeatures advance();

  /** Releases the partial results; safe after the last slice and more than once. */
  @Override
  void close();

  /** A task of one slice: {@code executor.encode(media)} when advanced. */
  static EncodeTask whole(ModelExecutor executor, PreparedMedia media) {
    return new EncodeTask() {
      @Override
      public MediaFeatures advance() {
        return executor.encode(media);
      }

      @Override
      public void close() {}
    };
  }
}

package dev.llavast.client.bench;

/** Bench progress; called from bench threads (implementations must be thread-safe and fast). */
public interface ProgressListener {
  ProgressListener NONE = new ProgressListener() {};

  /** A new phase with {@code total} units (bytes for uploads, requests for a level). */
  default void phase(String name, long total) {}

  default void advance(long done) {}

  default void phaseDone() {}
}

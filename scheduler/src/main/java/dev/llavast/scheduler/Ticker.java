package dev.llavast.scheduler;

/** A source of monotonic nanoseconds; injectable so that tests can use a fake clock. Any thread. */
@FunctionalInterface
public interface Ticker {
  long read();

  /** {@link System#nanoTime()}. */
  static Ticker system() {
    return System::nanoTime;
  }
}

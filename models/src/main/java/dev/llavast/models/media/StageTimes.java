package dev.llavast.models.media;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where a media load spends its time, per stage: demux + decode (every frame up to the last sampled
 * one), YUV to RGB (sampled frames only), and resize (sampled frames only, summed over the threads
 * that ran them, so it can exceed the wall time). Callers pass one in to learn the split;
 * benchmarks and metrics read it afterwards.
 *
 * <p>Thread-safe: the decoding thread and the frame pool add to it concurrently; any thread may
 * read it (a read during a load sees a partial sum).
 */
public final class StageTimes {
  private final LongAdder decodeNanos = new LongAdder();
  private final LongAdder framesDecoded = new LongAdder();
  private final LongAdder convertNanos = new LongAdder();
  private final LongAdder framesConverted = new LongAdder();
  private final LongAdder resizeNanos = new LongAdder();
  private final LongAdder framesResized = new LongAdder();
  private final LongAdder decodeCpu = new LongAdder();
  private final LongAdder convertCpu = new LongAdder();
  private final LongAdder resizeCpu = new LongAdder();

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** CPU time of the calling thread, ns; 0 where the JVM cannot tell. */
  static long threadCpu() {
    return THREADS.isCurrentThreadCpuTimeSupported() ? THREADS.getCurrentThreadCpuTime() : 0;
  }

  void decoded(long nanos, long cpuNanos) {
    decodeNanos.add(nanos);
    decodeCpu.add(cpuNanos);
    framesDecoded.increment();
  }

  void converted(long nanos, long cpuNanos) {
    convertNanos.add(nanos);
    convertCpu.add(cpuNanos);
    framesConverted.increment();
  }

  void resized(long nanos, long cpuNanos) {
    resizeNanos.add(nanos);
    resizeCpu.add(cpuNanos);
    framesResized.increment();
  }

  /**
   * CPU time of the thread that decoded (FFmpeg's own worker threads, when there are several, are
   * not in it).
   */
  public long decodeCpuNanos() {
    return decodeCpu.sum();
  }

  public long convertCpuNanos() {
    return convertCpu.sum();
  }

  /** CPU time of the resizing threads, summed. */
  public long resizeCpuNanos() {
    return resizeCpu.sum();
  }

  /** Demuxing and decoding, every decoded frame. */
  public long decodeNanos() {
    return decodeNanos.sum();
  }

  public long framesDecoded() {
    return framesDecoded.sum();
  }

  /** YUV (or whatever the codec gives) to RGB, converted frames only. */
  public long convertNanos() {
    return convertNanos.sum();
  }

  public long framesConverted() {
    return framesConverted.sum();
  }

  /** Bicubic resizing, summed over threads. */
  public long resizeNanos() {
    return resizeNanos.sum();
  }

  public long framesResized() {
    return framesResized.sum();
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "decode %.1f ms (%d frames), to RGB %.1f ms (%d), resize %.1f ms (%d)",
        decodeNanos() / 1e6,
        framesDecoded(),
        convertNanos() / 1e6,
        framesConverted(),
        resizeNanos() / 1e6,
        framesResized());
  }
}

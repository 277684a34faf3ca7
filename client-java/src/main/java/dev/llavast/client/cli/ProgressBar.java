package dev.llavast.client.cli;

import dev.llavast.client.bench.ProgressListener;
import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on stderr, redrawn with {@code \r} at most 10 times a second. Disabled
 * bars print nothing. Thread-safe (bench completions call it from gRPC threads).
 */
final class ProgressBar implements ProgressListener {
  private static final int WIDTH = 30;
  private final PrintStream err;
  private final boolean enabled;
  private final boolean bytes;
  private String label = "";
  private long total;
  private long lastDraw;
  private long done;
  private int lastLength;

  ProgressBar(PrintStream err, boolean enabled, boolean bytes) {
    this.err = err;
    this.enabled = enabled;
    this.bytes = bytes;
  }

  @Override
  public synchronized void phase(String name, long total) {
    this.label = name;
    this.total = total;
    this.done = 0;
    this.lastDraw = 0;
    draw(true);
  }

  @Override
  public synchronized void advance(long done) {
    this.done = done;
    draw(done >= total);
  }

  @Override
  public synchronized void phaseDone() {
    draw(true);
    if (enabled) {
      lastLength = 0;
      err.println();
      err.flush();
    }
  }

  private void draw(boolean force) {
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (!force && now - lastDraw < 100_000_000L) {
      return;
    }
    lastDraw = now;
    String line = render(label, done, total, bytes || label.equals("upload"));
    // pad over a longer previous line
    err.print("\r" + line + " ".repeat(Math.max(0, lastLength - line.length())));
    lastLength = line.length();
    err.flush();
  }

  /** The bar text, e.g. {@code upload [###############---------------] 50% 1.0/2.0 MiB}. */
  static String render(String label, long done, long total, boolean bytes) {
    double f = total <= 0 ? 1.0 : Math.min(1.0, done / (double) total);
    int full = (int) Math.round(f * WIDTH);
    String amount =
        bytes
            ? String.format(Locale.ROOT, "%.1f/%.1f MiB", done / 1048576.0, total / 1048576.0)
            : done + "/" + total;
    return String.format(
        Locale.ROOT,
        "%s [%s%s] %3d%% %s",
        label,
        "#".repeat(full),
        "-".repeat(WIDTH - full),
        Math.round(f * 100),
        amount);
  }
}

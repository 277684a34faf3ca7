package dev.llavast.client.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import javax.imageio.ImageIO;

/**
 * Draws latency percentiles against concurrency as a PNG with Java2D: two panels (TTFT and
 * end-to-end), each with p50 / p90 / p99 lines over the bench levels. Stateless; any thread.
 */
public final class LatencyChart {
  public static final int WIDTH = 960;
  public static final int HEIGHT = 420;
  private static final Color[] COLORS = {
    new Color(0x1f77b4), new Color(0xff7f0e), new Color(0xd62728)
  };

  private LatencyChart() {}

  public static void write(List<LevelResult> levels, Path png) throws IOException {
    BufferedImage img = render(levels);
    if (!ImageIO.write(img, "png", png.toFile())) {
      throw new IOException("no PNG writer available for " + png);
    }
  }

  public static BufferedImage render(List<LevelResult> levels) {
    if (levels.isEmpty()) {
      throw new IllegalArgumentException("need at least one bench level to plot");
    }
    BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);
    panel(g, levels, 0, "Time to first token (ms)", LevelResult::ttftMs);
    panel(g, levels, WIDTH / 2, "End-to-end latency (ms)", LevelResult::e2eMs);
    g.dispose();
    return img;
  }

  private static void panel(
      Graphics2D g,
      List<LevelResult> levels,
      int x0,
      String title,
      Function<LevelResult, LevelResult.Latency> metric) {
    int left = x0 + 70;
    int right = x0 + WIDTH / 2 - 20;
    int top = 50;
    int bottom = HEIGHT - 60;
    double max = 0;
    for (LevelResult l : levels) {
      LevelResult.Latency v = metric.apply(l);
      for (double d : new double[] {v.p50(), v.p90(), v.p99()}) {
        if (!Double.isNaN(d)) {
          max = Math.max(max, d);
        }
      }
    }
    max = max <= 0 ? 1 : max * 1.1;
    g.setStroke(new BasicStroke(1f));
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    g.drawString(title, left, 30);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    g.drawLine(left, bottom, right, bottom);
    g.drawLine(left, top, left, bottom);
    for (int t = 0; t <= 4; t++) {
      int y = bottom - (bottom - top) * t / 4;
      g.setColor(new Color(0xdddddd));
      g.drawLine(left + 1, y, right, y);
      g.setColor(Color.BLACK);
      g.drawString(String.format(Locale.ROOT, "%.1f", max * t / 4), x0 + 10, y + 4);
    }
    int n = levels.size();
    int[] xs = new int[n];
    for (int i = 0; i < n; i++) {
      xs[i] = n == 1 ? (left + right) / 2 : left + 20 + (right - left - 40) * i / (n - 1);
      g.drawString("C=" + levels.get(i).concurrency(), xs[i] - 12, bottom + 18);
    }
    g.drawString("concurrency", (left + right) / 2 - 30, bottom + 38);
    String[] names = {"p50", "p90", "p99"};
    g.setStroke(new BasicStroke(2f));
    for (int s = 0; s < 3; s++) {
      g.setColor(COLORS[s]);
      int px = -1;
      int py = -1;
      for (int i = 0; i < n; i++) {
        LevelResult.Latency v = metric.apply(levels.get(i));
        double d = s == 0 ? v.p50() : s == 1 ? v.p90() : v.p99();
        if (Double.isNaN(d)) {
          px = -1;
          continue;
        }
        int y = bottom - (int) Math.round((bottom - top) * d / max);
        g.fillOval(xs[i] - 4, y - 4, 8, 8);
        if (px >= 0) {
          g.drawLine(px, py, xs[i], y);
        }
        px = xs[i];
        py = y;
      }
      // legend in the title row, clear of the data
      g.fillRect(right - 150 + 52 * s, 32, 10, 10);
      g.drawString(names[s], right - 136 + 52 * s, 41);
    }
  }
}

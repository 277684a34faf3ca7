package dev.llavast.models.qwen2;

import java.util.List;
import java.util.Objects;

/**
 * The layout of one batched, paged LLM step: consecutive runs of positions, one per sequence, whose
 * rows are concatenated in order in the step's input {@code [N, C]} (N = sum of run lengths).
 *
 * @param blockSize token slots per KV block
 * @param runs the sequences' runs, in row order
 */
public record PagedBatch(int blockSize, List<Run> runs) {
  public PagedBatch {
    runs = List.copyOf(runs);
    if (blockSize <= 0) {
      throw new IllegalArgumentException("blockSize must be > 0, got " + blockSize);
    }
    for (int i = 0; i < runs.size(); i++) {
      Run r = runs.get(i);
      long needed = ((long) r.startPosition() + r.length() + blockSize - 1) / blockSize;
      if (r.blockTable().length < needed) {
        throw new IllegalArgumentException(
            "run "
                + i
                + " covers positions ["
                + r.startPosition()
                + ", "
                + (r.startPosition() + r.length())
                + ") but its block table has "
                + r.blockTable().length
                + " blocks of "
                + blockSize
                + " (needs "
                + needed
                + ")");
      }
    }
  }

  /** Total rows N. */
  public int rows() {
    int n = 0;
    for (Run r : runs) {
      n += r.length();
    }
    return n;
  }

  /**
   * One sequence's run.
   *
   * @param startPosition position of the first row; K/V of {@code [0, startPosition)} are already
   *     in the pool
   * @param length rows in this run (> 0)
   * @param blockTable physical block of logical block {@code i}
   * @param emitHidden whether the final hidden state of the run's last row is wanted (it samples)
   */
  public record Run(int startPosition, int length, int[] blockTable, boolean emitHidden) {
    public Run {
      Objects.requireNonNull(blockTable, "blockTable");
      if (startPosition < 0 || length <= 0) {
        throw new IllegalArgumentException(
            "bad run: startPosition=" + startPosition + " length=" + length);
      }
    }
  }
}

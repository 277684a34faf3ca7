package dev.llavast.scheduler;

import java.util.List;

/**
 * What one iteration computes: the sequences of the batch, each with its run of positions.
 *
 * @param blockSize token slots per KV block (fixed for the life of the pool)
 * @param sequences the batch; decode steps first, then prefill chunks
 */
public record StepPlan(int blockSize, List<SequenceStep> sequences) {
  public StepPlan {
    sequences = List.copyOf(sequences);
  }

  /** Total positions computed in this step (the token budget it consumed). */
  public int tokenCount() {
    int n = 0;
    for (SequenceStep s : sequences) {
      n += s.tokenIds().length;
    }
    return n;
  }
}

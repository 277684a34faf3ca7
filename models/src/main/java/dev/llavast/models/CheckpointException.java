package dev.llavast.models;

import java.util.List;

/**
 * A checkpoint does not match what the model needs: one exception for all problems found (missing
 * tensors, wrong shapes, unsupported dtypes, inconsistent shard index), listed one per line.
 */
public final class CheckpointException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient List<String> problems;

  public CheckpointException(String what, List<String> problems) {
    super(
        what
            + ": "
            + problems.size()
            + (problems.size() == 1 ? " problem" : " problems")
            + ":\n  - "
            + String.join("\n  - ", problems));
    this.problems = List.copyOf(problems);
  }

  /** Every problem found, one sentence each. */
  public List<String> problems() {
    return problems;
  }
}

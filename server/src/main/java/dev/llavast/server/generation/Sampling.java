package dev.llavast.server.generation;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How to sample an answer, as a request states it; unset values are 0 and the engine applies the
 * defaults (greedy, top-p 1, no top-k, no repetition penalty, the configured token limit). The
 * transports have already checked the ranges.
 *
 * @param temperature 0 is greedy
 * @param topP nucleus mass; 0 means 1
 * @param topK 0 disables
 * @param repetitionPenalty 0 means 1 (none)
 * @param seed the sampling seed; null means 0
 * @param maxNewTokens 0 means the configured default
 * @param stops stop strings: the answer ends before the first one that appears
 * @param referencePreset the reference implementation's sampling (its temperature, top-p and top-k)
 * @param logprobs whether to compute each token's log-probability
 * @param constraints what the answer's coordinates are guaranteed to be
 */
public record Sampling(
    float temperature,
    float topP,
    int topK,
    float repetitionPenalty,
    @Nullable Long seed,
    int maxNewTokens,
    List<String> stops,
    boolean referencePreset,
    boolean logprobs,
    Constraints constraints) {
  public Sampling {
    stops = List.copyOf(Objects.requireNonNull(stops, "stops"));
    Objects.requireNonNull(constraints, "constraints");
  }

  /** Coordinate-constrained decoding. */
  public enum Constraints {
    /** The model generates freely. */
    OFF,
    /** Every coordinate group is whole and valid; coordinates appear nowhere else. */
    COORDINATES,
    /** {@link #COORDINATES} plus the task's answer shape (needs a task). */
    TASK_SHAPE
  }

  /** Greedy decoding of at most {@code maxNewTokens} tokens (0: the default). */
  public static Sampling greedy(int maxNewTokens) {
    return new Sampling(
        0f, 0f, 0, 0f, null, maxNewTokens, List.of(), false, false, Constraints.OFF);
  }
}

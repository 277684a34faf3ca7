package dev.llavast.server.cli;

import dev.llavast.server.generation.Sampling;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How to sample, as flags: the same names and meanings as the client's {@code ask} command and the
 * API's {@code SamplingParams}.
 */
public final class SamplingOptions {
  @Option(
      names = {"--max-new-tokens", "--max-tokens"},
      description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
  public int maxNewTokens = 128;

  @Option(
      names = "--greedy",
      description = "Greedy decoding (the default); not combinable with --temperature > 0.")
  public boolean greedy;

  @Option(names = "--temperature", description = "0 is greedy (default: ${DEFAULT-VALUE}).")
  public float temperature = 0f;

  @Option(names = "--top-p", description = "Nucleus mass in (0, 1] (default: ${DEFAULT-VALUE}).")
  public float topP = 1f;

  @Option(names = "--top-k", description = "0 disables (default: ${DEFAULT-VALUE}).")
  public int topK = 0;

  @Option(names = "--repetition-penalty", description = "1 disables (default: ${DEFAULT-VALUE}).")
  public float repetitionPenalty = 1f;

  @Option(names = "--seed", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
  public long seed = 0L;

  @Option(names = "--stop", description = "A stop string; the answer ends before it (repeatable).")
  public List<String> stops = List.of();

  @Option(
      names = "--constrain",
      paramLabel = "MODE",
      description =
          "Coordinate-constrained decoding: off, "
              + "coordinates (every coordinate group whole and valid) or task-shape (also the --task answer shape) "
              + "(default: ${DEFAULT-VALUE}).")
  public String constrain = "off";

  /**
   * The sampling these flags describe.
   *
   * @throws IllegalArgumentException for contradictory or out-of-range flags (the API's ranges)
   */
  public Sampling toSampling(boolean logprobs) {
    if (maxNewTokens <= 0) {
      throw new IllegalArgumentException("--max-new-tokens must be > 0, got " + maxNewTokens);
    }
    if (greedy && temperature > 0f) {
      throw new IllegalArgumentException("--greedy contradicts --temperature " + temperature);
    }
    if (!(temperature >= 0 && temperature <= 2)) {
      throw new IllegalArgumentException("--temperature must be in [0, 2], got " + temperature);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("--top-k must be >= 0, got " + topK);
    }
    if (!(repetitionPenalty > 0 && repetitionPenalty <= 2)) {
      throw new IllegalArgumentException(
          "--repetition-penalty must be in (0, 2], got " + repetitionPenalty);
    }
    return new Sampling(
        temperature,
        topP,
        topK,
        repetitionPenalty,
        seed,
        maxNewTokens,
        stops,
        false,
        logprobs,
        constraints(constrain));
  }

  /** {@code off}, {@code coordinates} or {@code task-shape} (any case, '-' or '_'). */
  static Sampling.Constraints constraints(String mode) {
    try {
      return Sampling.Constraints.valueOf(
          mode.strip().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--constrain must be off, coordinates or task-shape, got '" + mode + "'");
    }
  }
}

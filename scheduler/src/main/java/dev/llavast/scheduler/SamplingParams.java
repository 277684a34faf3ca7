package dev.llavast.scheduler;

/**
 * How to pick the next token. Validated at construction; the server maps violations to {@code
 * INVALID_ARGUMENT} before anything is queued.
 *
 * @param temperature 0 means greedy (argmax after the repetition penalty)
 * @param topP nucleus mass in (0, 1]; 1 disables
 * @param topK 0 disables
 * @param repetitionPenalty 1 disables; applied to previously generated ids only (as the reference)
 * @param seed base seed; the token at generated index {@code n} draws from a generator seeded by
 *     ({@code seed}, {@code n}), so a request's sampling does not depend on batching
 * @param maxNewTokens generation stops after this many tokens
 * @param stopTokenIds generation stops when one of these is sampled (it is not emitted as text)
 * @param logprobs whether to return the log-probability of each sampled token
 * @param constraint a grammar the tokens must follow ({@link OutputConstraint#NONE}: none); the
 *     executor enforces it, the scheduler only carries it
 */
public record SamplingParams(
    float temperature,
    float topP,
    int topK,
    float repetitionPenalty,
    long seed,
    int maxNewTokens,
    int[] stopTokenIds,
    boolean logprobs,
    OutputConstraint constraint) {

  public SamplingParams {
    if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException(
          "temperature must be a finite number >= 0, got " + temperature);
    }
    if (!(topP > 0f && topP <= 1f)) {
      throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("topK must be >= 0, got " + topK);
    }
    if (!(repetitionPenalty > 0f) || Float.isInfinite(repetitionPenalty)) {
      throw new IllegalArgumentException(
          "repetitionPenalty must be a finite number > 0, got " + repetitionPenalty);
    }
    if (maxNewTokens <= 0) {
      throw new IllegalArgumentException("maxNewTokens must be > 0, got " + maxNewTokens);
    }
    stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
    constraint = constraint == null ? OutputConstraint.NONE : constraint;
  }

  /** Parameters without a constraint. */
  public SamplingParams(
      float temperature,
      float topP,
      int topK,
      float repetitionPenalty,
      long seed,
      int maxNewTokens,
      int[] stopTokenIds,
      boolean logprobs) {
    this(
        temperature,
        topP,
        topK,
        repetitionPenalty,
        seed,
        maxNewTokens,
        stopTokenIds,
        logprobs,
        OutputConstraint.NONE);
  }

  /** The same parameters under {@code c}. */
  public SamplingParams withConstraint(OutputConstraint c) {
    return new SamplingParams(
        temperature, topP, topK, repetitionPenalty, seed, maxNewTokens, stopTokenIds, logprobs, c);
  }

  /** Greedy decoding of at most {@code maxNewTokens}, stopping at {@code stopTokenIds}. */
  public static SamplingParams greedy(int maxNewTokens, int... stopTokenIds) {
    return new SamplingParams(0f, 1f, 0, 1f, 0L, maxNewTokens, stopTokenIds, false);
  }

  public boolean isGreedy() {
    return temperature == 0f;
  }

  public boolean isStopToken(int tokenId) {
    for (int id : stopTokenIds) {
      if (id == tokenId) {
        return true;
      }
    }
    return false;
  }
}

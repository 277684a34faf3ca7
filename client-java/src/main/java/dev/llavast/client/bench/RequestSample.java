package dev.llavast.client.bench;

/**
 * What one bench request measured (client side). Times in nanoseconds; NaN-free: {@code ttftNanos}
 * is -1 when no token arrived.
 *
 * @param error "" for success, else "CODE/REASON"
 * @param ttftNanos from the scheduled start to the first delta with text
 * @param e2eNanos from the scheduled start to the end of the call
 * @param interTokenNanos gap to the previous delta divided by the tokens of the delta, one entry
 *     per later delta
 */
public record RequestSample(
    String error,
    long ttftNanos,
    long e2eNanos,
    long[] interTokenNanos,
    int generatedTokens,
    int promptTokens,
    int cachedTokens,
    boolean featureCacheHit) {
  public boolean ok() {
    return error.isEmpty();
  }
}

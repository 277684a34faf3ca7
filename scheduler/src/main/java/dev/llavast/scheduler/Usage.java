package dev.llavast.scheduler;

import java.time.Duration;

/**
 * Token counts and timings of one request, measured with the scheduler's {@link Ticker}.
 *
 * @param promptTokens prompt length (0 if the prompt never arrived)
 * @param cachedTokens prompt tokens served from the prefix cache at first admission
 * @param generatedTokens tokens sampled (a sampled stop token counts)
 * @param queueNanos submission to first admission (includes waiting for a pending prompt)
 * @param prefillNanos first admission to first sampled token
 * @param decodeNanos first sampled token to the end
 * @param preemptions how often the request was preempted and recomputed
 */
public record Usage(
    int promptTokens,
    int cachedTokens,
    int generatedTokens,
    long queueNanos,
    long prefillNanos,
    long decodeNanos,
    int preemptions) {

  public Duration queueTime() {
    return Duration.ofNanos(queueNanos);
  }

  public Duration prefillTime() {
    return Duration.ofNanos(prefillNanos);
  }

  public Duration decodeTime() {
    return Duration.ofNanos(decodeNanos);
  }
}

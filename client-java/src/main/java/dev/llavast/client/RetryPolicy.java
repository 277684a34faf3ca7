package dev.llavast.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * When and how long the client retries a failed call. A call is retried only while it has produced
 * no response message (a stream is never retried after its first message), only for {@link
 * #retryableCodes()}, at most {@link #maxAttempts()} attempts in all, and only while the next
 * attempt would start within {@link #maxElapsed()} of the first.
 *
 * <p>Backoff before retry n (n = 1 after the first failure): with a server {@code RetryInfo} delay
 * d, {@code d * (1 + jitter * u)} (never earlier than the server asked); otherwise {@code b * (1 -
 * jitter * u)} with {@code b = min(maxBackoff, initialBackoff * multiplier^(n-1))}, u uniform in
 * [0, 1).
 */
public record RetryPolicy(
    int maxAttempts,
    Duration maxElapsed,
    Duration initialBackoff,
    Duration maxBackoff,
    double multiplier,
    double jitter,
    Set<Status.Code> retryableCodes) {

  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be >= 1, got " + maxAttempts);
    }
    if (maxElapsed.isNegative() || initialBackoff.isNegative() || maxBackoff.isNegative()) {
      throw new IllegalArgumentException(
          "durations must be >= 0, got maxElapsed="
              + maxElapsed
              + " initialBackoff="
              + initialBackoff
              + " maxBackoff="
              + maxBackoff);
    }
    if (multiplier < 1.0) {
      throw new IllegalArgumentException("multiplier must be >= 1, got " + multiplier);
    }
    if (jitter < 0 || jitter > 1) {
      throw new IllegalArgumentException("jitter must be in [0, 1], got " + jitter);
    }
    retryableCodes = Set.copyOf(retryableCodes);
  }

  /**
   * 5 attempts within 30 s, 100 ms doubling to 5 s, 20% jitter, on UNAVAILABLE and
   * RESOURCE_EXHAUSTED.
   */
  public static RetryPolicy defaults() {
    return new RetryPolicy(
        5,
        Duration.ofSeconds(30),
        Duration.ofMillis(100),
        Duration.ofSeconds(5),
        2.0,
        0.2,
        EnumSet.of(Status.Code.UNAVAILABLE, Status.Code.RESOURCE_EXHAUSTED));
  }

  /** No retries at all. */
  public static RetryPolicy none() {
    return new RetryPolicy(1, Duration.ZERO, Duration.ZERO, Duration.ZERO, 1.0, 0.0, Set.of());
  }

  public RetryPolicy withMaxAttempts(int n) {
    return new RetryPolicy(
        n, maxElapsed, initialBackoff, maxBackoff, multiplier, jitter, retryableCodes);
  }

  public RetryPolicy withMaxElapsed(Duration d) {
    return new RetryPolicy(
        maxAttempts, d, initialBackoff, maxBackoff, multiplier, jitter, retryableCodes);
  }

  public RetryPolicy withBackoff(Duration initial, Duration max) {
    return new RetryPolicy(
        maxAttempts, maxElapsed, initial, max, multiplier, jitter, retryableCodes);
  }

  public RetryPolicy withJitter(double j) {
    return new RetryPolicy(
        maxAttempts, maxElapsed, initialBackoff, maxBackoff, multiplier, j, retryableCodes);
  }

  /**
   * The delay before retry {@code n} (1-based), given the server's hint and a uniform {@code u} in
   * [0, 1). Pure; any thread.
   */
  public Duration backoff(int n, Optional<Duration> serverHint, double u) {
    if (n < 1) {
      throw new IllegalArgumentException("retry number must be >= 1, got " + n);
    }
    if (serverHint.isPresent()) {
      long hint = serverHint.get().toNanos();
      return Duration.ofNanos(hint + (long) (hint * jitter * u));
    }
    double base = initialBackoff.toNanos() * Math.pow(multiplier, n - 1);
    base = Math.min(base, maxBackoff.toNanos());
    return Duration.ofNanos((long) (base * (1.0 - jitter * u)));
  }

  /**
   * Whether to retry after {@code attemptsMade} attempts failed with {@code e}, when the next
   * attempt would start {@code elapsedAtNextStart} after the first. Pure; any thread.
   */
  public boolean shouldRetry(LlavaStException e, int attemptsMade, Duration elapsedAtNextStart) {
    return retryableCodes.contains(e.code())
        && attemptsMade < maxAttempts
        && elapsedAtNextStart.compareTo(maxElapsed) <= 0;
  }
}

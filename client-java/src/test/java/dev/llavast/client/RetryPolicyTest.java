package dev.llavast.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private final RetryPolicy p =
      new RetryPolicy(
          5,
          Duration.ofSeconds(10),
          Duration.ofMillis(100),
          Duration.ofMillis(700),
          2.0,
          0.5,
          java.util.Set.of(Status.Code.UNAVAILABLE, Status.Code.RESOURCE_EXHAUSTED));

  @Test
  void exponentialBackoffIsCappedAndJitteredDownward() {
    // base 100, 200, 400, 700 (cap), 700
    assertThat(p.backoff(1, Optional.empty(), 0.0)).isEqualTo(Duration.ofMillis(100));
    assertThat(p.backoff(2, Optional.empty(), 0.0)).isEqualTo(Duration.ofMillis(200));
    assertThat(p.backoff(3, Optional.empty(), 0.0)).isEqualTo(Duration.ofMillis(400));
    assertThat(p.backoff(4, Optional.empty(), 0.0)).isEqualTo(Duration.ofMillis(700));
    assertThat(p.backoff(9, Optional.empty(), 0.0)).isEqualTo(Duration.ofMillis(700));
    // jitter 0.5, u = 0.5: 400 * (1 - 0.25) = 300
    assertThat(p.backoff(3, Optional.empty(), 0.5)).isEqualTo(Duration.ofMillis(300));
  }

  @Test
  void serverHintIsNeverShortened() {
    // hint 1 s, jitter 0.5, u = 0.4: 1000 * 1.2 = 1200 ms, even above maxBackoff
    assertThat(p.backoff(1, Optional.of(Duration.ofSeconds(1)), 0.4))
        .isEqualTo(Duration.ofMillis(1200));
    assertThat(p.backoff(1, Optional.of(Duration.ofSeconds(1)), 0.0))
        .isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void retriesOnlyRetryableCodesWithinAttemptsAndTime() {
    LlavaStException overloaded = ex(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(p.shouldRetry(overloaded, 1, Duration.ofSeconds(1))).isTrue();
    assertThat(p.shouldRetry(overloaded, 5, Duration.ofSeconds(1))).isFalse();
    assertThat(p.shouldRetry(overloaded, 1, Duration.ofSeconds(11))).isFalse();
    assertThat(p.shouldRetry(ex(Status.Code.INVALID_ARGUMENT), 1, Duration.ZERO)).isFalse();
    assertThat(RetryPolicy.none().shouldRetry(overloaded, 1, Duration.ZERO)).isFalse();
  }

  @Test
  void rejectsNonsense() {
    assertThatThrownBy(() -> p.withMaxAttempts(0))
        .hasMessageContaining("maxAttempts must be >= 1, got 0");
    assertThatThrownBy(() -> p.withJitter(1.5))
        .hasMessageContaining("jitter must be in [0, 1], got 1.5");
  }

  private static LlavaStException ex(Status.Code code) {
    return new LlavaStException(code, "", "x", Map.of(), List.of(), null, 1, null);
  }
}

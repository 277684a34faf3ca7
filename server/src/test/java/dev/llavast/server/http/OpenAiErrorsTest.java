package dev.llavast.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every reason has its HTTP status and an OpenAI-shaped body with the reason as code. */
class OpenAiErrorsTest {

  @Test
  void everyReasonMapsToItsStatus() {
    Map<Reason, Integer> expected = new EnumMap<>(Reason.class);
    expected.put(Reason.INVALID_REQUEST, 400);
    expected.put(Reason.PROMPT_TOO_LONG, 400);
    expected.put(Reason.MEDIA_INVALID, 400);
    expected.put(Reason.MEDIA_TOO_LARGE, 413);
    expected.put(Reason.MEDIA_NOT_FOUND, 404);
    expected.put(Reason.SESSION_NOT_FOUND, 404);
    expected.put(Reason.SESSION_CLOSED, 409);
    expected.put(Reason.SESSION_BUSY, 409);
    expected.put(Reason.OVERLOADED, 429);
    expected.put(Reason.TOO_MANY_SESSIONS, 429);
    expected.put(Reason.NOT_READY, 503);
    expected.put(Reason.CANCELLED, 499);
    expected.put(Reason.DEADLINE_EXCEEDED, 504);
    expected.put(Reason.MODEL_FAILURE, 500);
    expected.put(Reason.NOT_IMPLEMENTED, 501);
    expected.put(Reason.DUPLICATE_REQUEST_ID, 409);
    expected.put(Reason.SLOW_CONSUMER, 409);
    expected.put(Reason.UNAUTHENTICATED, 401);
    assertThat(expected.keySet()).containsExactlyInAnyOrder(Reason.values());
    expected.forEach(
        (reason, status) ->
            assertThat(OpenAiErrors.status(ApiException.of(reason, "x")).code())
                .as("%s", reason)
                .isEqualTo(status));
  }

  @Test
  void theBodyNamesTheReasonTheTypeAndTheFirstField() {
    ApiException overloaded = ApiException.overloaded("the queue is full", Duration.ofSeconds(2));
    ObjectNode body = OpenAiErrors.body(overloaded, OpenAiErrors.status(overloaded));
    assertThat(body.at("/error/type").asText()).isEqualTo("rate_limit_error");
    assertThat(body.at("/error/code").asText()).isEqualTo("OVERLOADED");
    assertThat(body.at("/error/param").isNull()).isTrue();
    ApiException bad = ApiException.invalid("temperature", "must be in [0, 2]");
    ObjectNode b = OpenAiErrors.body(bad, OpenAiErrors.status(bad));
    assertThat(b.at("/error/param").asText()).isEqualTo("temperature");
    assertThat(b.at("/error/type").asText()).isEqualTo("invalid_request_error");
    assertThat(b.at("/error/message").asText()).contains("must be in [0, 2]");
  }
}

package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.media.MediaException;
import dev.llavast.scheduler.DuplicateRequestException;
import dev.llavast.scheduler.InvalidRequestException;
import dev.llavast.scheduler.OverloadedException;
import dev.llavast.scheduler.PromptFailedException;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The one mapping from every failure of a generation to the API's reasons. */
class FailuresTest {
  @Test
  void aDuplicateRequestIdIsItsOwnReasonNotPromptTooLong() {
    ApiException dup = Failures.toApi(new DuplicateRequestException("abc"));
    assertThat(dup.reason()).isEqualTo(Reason.DUPLICATE_REQUEST_ID);
    assertThat(dup.kind()).isEqualTo(Reason.Kind.ALREADY_EXISTS);
    assertThat(dup.getMessage()).isEqualTo("request id abc is already in flight");

    ApiException tooLong =
        Failures.toApi(
            new InvalidRequestException(
                "request r: prompt of 3000 tokens + maxNewTokens 4096 can never fit: context limit 4096 tokens"));
    assertThat(tooLong.reason()).isEqualTo(Reason.PROMPT_TOO_LONG);
    assertThat(tooLong.kind()).isEqualTo(Reason.Kind.INVALID_ARGUMENT);
  }

  @Test
  void aDuplicateIsRecognisedByTypeEvenWhenWrappedAndNeverByMessage() {
    assertThat(
            Failures.toApi(new CompletionException(new DuplicateRequestException("r7"))).reason())
        .isEqualTo(Reason.DUPLICATE_REQUEST_ID);
    // An invalid request whose text happens to read like the duplicate message stays
    // PROMPT_TOO_LONG.
    assertThat(
            Failures.toApi(new InvalidRequestException("request id abc is already in flight"))
                .reason())
        .isEqualTo(Reason.PROMPT_TOO_LONG);
  }

  @Test
  void overloadKeepsItsRetryHintAndAFailedPromptReportsItsCause() {
    ApiException over =
        Failures.toApi(new OverloadedException("queue full", Duration.ofMillis(1500)));
    assertThat(over.reason()).isEqualTo(Reason.OVERLOADED);
    assertThat(over.retryAfter()).contains(Duration.ofMillis(1500));

    ApiException media =
        Failures.toApi(
            new PromptFailedException(
                "prompt of r1 failed",
                new MediaException(MediaException.Reason.UNREADABLE, "not a video")));
    assertThat(media.reason()).isEqualTo(Reason.MEDIA_INVALID);
    assertThat(media.metadata()).containsEntry("media_error", "UNREADABLE");
    assertThat(Failures.toApi(new CancellationException()).reason()).isEqualTo(Reason.CANCELLED);
  }

  @Test
  void anUnexpectedExceptionIsAModelFailureInOurWordsWithoutClassOrMessage() {
    ApiException e =
        Failures.toApi(
            new CompletionException(
                new NullPointerException(
                    "Cannot invoke \"dev.llavast.Foo.bar()\" because x is null")));
    assertThat(e.reason()).isEqualTo(Reason.MODEL_FAILURE);
    assertThat(e.kind()).isEqualTo(Reason.Kind.INTERNAL);
    assertThat(e.getMessage())
        .doesNotContain("NullPointerException", "dev.llavast", "Cannot invoke")
        .contains("internal error");
    // the id the log line carries, for an operator to find it from the client's error
    assertThat(e.metadata().get("error_id")).matches("[0-9a-f]{12}");
    assertThat(e.getMessage()).contains(e.metadata().get("error_id"));
  }
}

package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import dev.llavast.scheduler.DuplicateRequestException;
import dev.llavast.scheduler.InvalidRequestException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class SchedulerErrorsTest {
  @Test
  void aDuplicateRequestIdIsAlreadyExistsNotPromptTooLong() {
    StatusRuntimeException dup = SchedulerErrors.toStatus(new DuplicateRequestException("abc"));
    assertThat(dup.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(dup.getStatus().getDescription()).isEqualTo("request id abc is already in flight");
    assertThat(RequestValidatorTest.unpack(dup, ErrorInfo.class).getReason()).isEqualTo("DUPLICATE_REQUEST_ID");

    StatusRuntimeException tooLong = SchedulerErrors.toStatus(new InvalidRequestException(
        "request r: prompt of 3000 tokens + maxNewTokens 4096 can never fit: context limit 4096 tokens"));
    assertThat(tooLong.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(RequestValidatorTest.unpack(tooLong, ErrorInfo.class).getReason()).isEqualTo("PROMPT_TOO_LONG");
  }

  @Test
  void aDuplicateIsRecognisedByTypeEvenWhenWrappedAndNeverByMessage() {
    StatusRuntimeException wrapped = SchedulerErrors.toStatus(new CompletionException(new DuplicateRequestException("r7")));
    assertThat(wrapped.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(RequestValidatorTest.unpack(wrapped, ErrorInfo.class).getReason()).isEqualTo("DUPLICATE_REQUEST_ID");

    // An invalid request whose text happens to read like the duplicate message stays INVALID_ARGUMENT.
    StatusRuntimeException lookalike = SchedulerErrors.toStatus(
        new InvalidRequestException("request id abc is already in flight"));
    assertThat(lookalike.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(RequestValidatorTest.unpack(lookalike, ErrorInfo.class).getReason()).isEqualTo("PROMPT_TOO_LONG");
  }
}

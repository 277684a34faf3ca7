package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The one mapping of the API's reasons to gRPC. */
class GrpcErrorsTest {
  @Test
  void everyReasonIsANameOfErrorsProtoAndBack() {
    assertThat(Arrays.stream(Reason.values()).map(Enum::name))
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(ErrorReason.values())
                .filter(
                    r -> r != ErrorReason.ERROR_REASON_UNSPECIFIED && r != ErrorReason.UNRECOGNIZED)
                .map(r -> r.name().substring("ERROR_REASON_".length()))
                .toList());
    for (Reason r : Reason.values()) {
      assertThat(GrpcErrors.proto(r).name()).isEqualTo("ERROR_REASON_" + r.name());
    }
  }

  @Test
  void statusCarriesCodeReasonViolationsAndRetryHint() {
    StatusRuntimeException e =
        GrpcErrors.toStatus(
            ApiException.builder(Reason.OVERLOADED, "queue full")
                .retryAfter(Duration.ofMillis(250))
                .metadata("queue", "7")
                .build());
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(e.getStatus().getDescription()).isEqualTo("queue full");
    ErrorInfo info = RequestValidatorTest.unpack(e, ErrorInfo.class);
    assertThat(info.getReason()).isEqualTo("OVERLOADED");
    assertThat(info.getDomain()).isEqualTo(GrpcErrors.DOMAIN);
    assertThat(info.getMetadataMap()).containsEntry("queue", "7");
    assertThat(RequestValidatorTest.unpack(e, RetryInfo.class).getRetryDelay().getNanos())
        .isEqualTo(250_000_000);

    StatusRuntimeException bad =
        GrpcErrors.toStatus(ApiException.invalid("sampling.top_p", "must be in (0, 1]"));
    assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(RequestValidatorTest.unpack(bad, BadRequest.class).getFieldViolations(0).getField())
        .isEqualTo("sampling.top_p");

    // an upload in progress over its cap overrides the reason's usual class
    StatusRuntimeException upload =
        GrpcErrors.toStatus(
            ApiException.builder(Reason.MEDIA_TOO_LARGE, "too big")
                .kind(Reason.Kind.RESOURCE_EXHAUSTED)
                .build());
    assertThat(upload.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(RequestValidatorTest.unpack(upload, ErrorInfo.class).getReason())
        .isEqualTo("MEDIA_TOO_LARGE");
  }
}

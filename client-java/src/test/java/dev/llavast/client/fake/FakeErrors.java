package dev.llavast.client.fake;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;

/**
 * Errors shaped like the API's (errors.proto): status code, ErrorInfo reason, BadRequest,
 * RetryInfo.
 */
public final class FakeErrors {
  private FakeErrors() {}

  public static StatusRuntimeException error(Code code, String reason, String message) {
    return build(code, reason, message, List.of(), null);
  }

  public static StatusRuntimeException build(
      Code code, String reason, String message, List<String[]> violations, Duration retryAfter) {
    com.google.rpc.Status.Builder s =
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage(message)
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder().setDomain("llavast.dev").setReason(reason).build()));
    if (!violations.isEmpty()) {
      BadRequest.Builder br = BadRequest.newBuilder();
      for (String[] v : violations) {
        br.addFieldViolations(
            BadRequest.FieldViolation.newBuilder().setField(v[0]).setDescription(v[1]));
      }
      s.addDetails(Any.pack(br.build()));
    }
    if (retryAfter != null) {
      s.addDetails(
          Any.pack(
              RetryInfo.newBuilder()
                  .setRetryDelay(
                      com.google.protobuf.Duration.newBuilder()
                          .setSeconds(retryAfter.getSeconds())
                          .setNanos(retryAfter.getNano()))
                  .build()));
    }
    return StatusProto.toStatusRuntimeException(s.build());
  }
}

package dev.llavast.server;

import com.google.protobuf.Any;
import com.google.protobuf.util.Durations;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.llavast.api.v1.ErrorReason;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Builds the gRPC errors of the API: a canonical status code, a message for people, and
 * {@code google.rpc} details for programs ({@link ErrorInfo} with a stable reason from
 * {@link ErrorReason}, {@link BadRequest} field violations, {@link RetryInfo}). Stateless; any thread.
 */
public final class ApiErrors {
  /** {@code ErrorInfo.domain} of every error this server returns. */
  public static final String DOMAIN = "llavast.dev";

  private ApiErrors() {}

  /** The reason name as clients see it: the enum name without {@code ERROR_REASON_}. */
  public static String reasonName(ErrorReason reason) {
    return reason.name().substring("ERROR_REASON_".length());
  }

  /** An error with a code, a reason and a message. */
  public static StatusRuntimeException of(Code code, ErrorReason reason, String message) {
    return builder(code, reason, message).build();
  }

  /** INVALID_ARGUMENT / INVALID_REQUEST with one violation per bad field. */
  public static StatusRuntimeException invalidArgument(List<FieldViolation> violations) {
    Builder b = builder(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_INVALID_REQUEST,
        violations.size() == 1
            ? "invalid " + violations.get(0).field() + ": " + violations.get(0).description()
            : violations.size() + " invalid fields: " + violations.get(0).field() + ": "
                + violations.get(0).description() + "; ...");
    for (FieldViolation v : violations) {
      b.violation(v.field(), v.description());
    }
    return b.build();
  }

  /** RESOURCE_EXHAUSTED / OVERLOADED with a retry hint. */
  public static StatusRuntimeException overloaded(String message, Duration retryAfter) {
    return builder(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_OVERLOADED, message).retryAfter(retryAfter).build();
  }

  /** UNIMPLEMENTED / NOT_IMPLEMENTED for a method of the API that this build does not serve yet. */
  public static StatusRuntimeException notImplemented(String method, String why) {
    return of(Code.UNIMPLEMENTED, ErrorReason.ERROR_REASON_NOT_IMPLEMENTED, method + " is not implemented yet: " + why);
  }

  public static Builder builder(Code code, ErrorReason reason, String message) {
    return new Builder(code, reason, message);
  }

  /** One bad field: its path in the request message and what is wrong with it. */
  public record FieldViolation(String field, String description) {}

  /** Accumulates details; {@link #build()} makes the exception. Not thread-safe; one per error. */
  public static final class Builder {
    private final Code code;
    private final ErrorReason reason;
    private final String message;
    private final Map<String, String> metadata = new java.util.LinkedHashMap<>();
    private final List<BadRequest.FieldViolation> violations = new ArrayList<>();
    private Duration retryAfter;

    private Builder(Code code, ErrorReason reason, String message) {
      this.code = code;
      this.reason = reason;
      this.message = message;
    }

    public Builder metadata(String key, String value) {
      metadata.put(key, value);
      return this;
    }

    public Builder violation(String field, String description) {
      violations.add(BadRequest.FieldViolation.newBuilder().setField(field).setDescription(description).build());
      return this;
    }

    public Builder retryAfter(Duration delay) {
      this.retryAfter = delay;
      return this;
    }

    public StatusRuntimeException build() {
      com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
          .setCode(code.getNumber())
          .setMessage(message)
          .addDetails(Any.pack(ErrorInfo.newBuilder()
              .setReason(reasonName(reason))
              .setDomain(DOMAIN)
              .putAllMetadata(metadata)
              .build()));
      if (!violations.isEmpty()) {
        status.addDetails(Any.pack(BadRequest.newBuilder().addAllFieldViolations(violations).build()));
      }
      if (retryAfter != null) {
        status.addDetails(Any.pack(RetryInfo.newBuilder()
            .setRetryDelay(Durations.fromMillis(retryAfter.toMillis()))
            .build()));
      }
      return StatusProto.toStatusRuntimeException(status.build());
    }
  }
}

package dev.llavast.server.grpc;

import com.google.protobuf.Any;
import com.google.protobuf.util.Durations;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.Failures;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * The API's errors as gRPC sends them: a canonical status code, a message for people, and {@code
 * google.rpc} details for programs ({@link ErrorInfo} with the stable reason of {@code
 * errors.proto}, {@link BadRequest} field violations, {@link RetryInfo}). The one place that maps a
 * {@link Reason} to gRPC. Stateless; any thread.
 */
public final class GrpcErrors {
  /** {@code ErrorInfo.domain} of every error this server returns. */
  public static final String DOMAIN = "llavast.dev";

  private GrpcErrors() {}

  /** The gRPC error for an API error. */
  public static StatusRuntimeException toStatus(ApiException e) {
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder()
            .setCode(code(e.kind()).getNumber())
            .setMessage(e.getMessage())
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder()
                        .setReason(e.reason().name())
                        .setDomain(DOMAIN)
                        .putAllMetadata(e.metadata())
                        .build()));
    if (!e.violations().isEmpty()) {
      BadRequest.Builder bad = BadRequest.newBuilder();
      for (FieldViolation v : e.violations()) {
        bad.addFieldViolations(
            BadRequest.FieldViolation.newBuilder()
                .setField(v.field())
                .setDescription(v.description()));
      }
      status.addDetails(Any.pack(bad.build()));
    }
    e.retryAfter()
        .ifPresent(
            d ->
                status.addDetails(
                    Any.pack(
                        RetryInfo.newBuilder()
                            .setRetryDelay(Durations.fromMillis(d.toMillis()))
                            .build())));
    return StatusProto.toStatusRuntimeException(status.build());
  }

  /**
   * The gRPC error for any failure: one already mapped passes through, the rest via {@link
   * Failures}.
   */
  public static StatusRuntimeException toStatus(Throwable t) {
    Throwable e = t;
    while ((e instanceof java.util.concurrent.CompletionException
            || e instanceof java.util.concurrent.ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof StatusRuntimeException sre) {
      return sre;
    }
    return toStatus(Failures.toApi(e));
  }

  /** The proto enum value of a reason (the same name with the {@code ERROR_REASON_} prefix). */
  public static ErrorReason proto(Reason reason) {
    return ErrorReason.valueOf("ERROR_REASON_" + reason.name());
  }

  /** The gRPC code of a class of failure. */
  static Code code(Reason.Kind kind) {
    return switch (kind) {
      case INVALID_ARGUMENT -> Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Code.NOT_FOUND;
      case ALREADY_EXISTS -> Code.ALREADY_EXISTS;
      case FAILED_PRECONDITION -> Code.FAILED_PRECONDITION;
      case ABORTED -> Code.ABORTED;
      case RESOURCE_EXHAUSTED -> Code.RESOURCE_EXHAUSTED;
      case UNAVAILABLE -> Code.UNAVAILABLE;
      case CANCELLED -> Code.CANCELLED;
      case DEADLINE_EXCEEDED -> Code.DEADLINE_EXCEEDED;
      case INTERNAL -> Code.INTERNAL;
      case UNIMPLEMENTED -> Code.UNIMPLEMENTED;
      case UNAUTHENTICATED -> Code.UNAUTHENTICATED;
    };
  }
}

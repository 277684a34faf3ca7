package dev.llavast.server;

import com.google.rpc.Code;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.scheduler.DuplicateRequestException;
import dev.llavast.scheduler.OverloadedException;
import dev.llavast.scheduler.PromptFailedException;
import dev.llavast.scheduler.SchedulerException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.CompletionException;

/** Maps scheduler failures to the API's gRPC errors. Stateless; any thread. */
final class SchedulerErrors {
  private SchedulerErrors() {}

  static StatusRuntimeException toStatus(Throwable t) {
    Throwable e = unwrap(t);
    if (e instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (e instanceof PromptFailedException pf && pf.getCause() != null) {
      return toStatus(pf.getCause());
    }
    if (e instanceof DuplicateRequestException dup) {
      return ApiErrors.of(Code.ALREADY_EXISTS, ErrorReason.ERROR_REASON_DUPLICATE_REQUEST_ID, dup.getMessage());
    }
    if (e instanceof SchedulerException se) {
      switch (se.reason()) {
        case "QUEUE_FULL":
          Duration retry = e instanceof OverloadedException o ? o.retryAfter() : Duration.ofSeconds(1);
          return ApiErrors.overloaded(se.getMessage(), retry);
        case "INVALID_REQUEST":
          return ApiErrors.of(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_PROMPT_TOO_LONG, se.getMessage());
        case "CANCELLED":
          return ApiErrors.of(Code.CANCELLED, ErrorReason.ERROR_REASON_CANCELLED, se.getMessage());
        case "DEADLINE_EXCEEDED":
          return ApiErrors.of(Code.DEADLINE_EXCEEDED, ErrorReason.ERROR_REASON_DEADLINE_EXCEEDED, se.getMessage());
        case "UNAVAILABLE":
          return ApiErrors.of(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_NOT_READY, se.getMessage());
        default:
          return ApiErrors.of(Code.INTERNAL, ErrorReason.ERROR_REASON_MODEL_FAILURE, se.getMessage());
      }
    }
    if (e instanceof java.util.concurrent.CancellationException) {
      return ApiErrors.of(Code.CANCELLED, ErrorReason.ERROR_REASON_CANCELLED, "the request was cancelled");
    }
    return ApiErrors.of(Code.INTERNAL, ErrorReason.ERROR_REASON_MODEL_FAILURE,
        "internal error: " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
  }

  /** The API reason name of an error, for the failure metric. */
  static String reasonOf(StatusRuntimeException e) {
    com.google.rpc.Status s = io.grpc.protobuf.StatusProto.fromThrowable(e);
    if (s != null) {
      for (com.google.protobuf.Any a : s.getDetailsList()) {
        if (a.is(com.google.rpc.ErrorInfo.class)) {
          try {
            return a.unpack(com.google.rpc.ErrorInfo.class).getReason();
          } catch (com.google.protobuf.InvalidProtocolBufferException x) {
            break;
          }
        }
      }
    }
    return e.getStatus().getCode() == Status.Code.CANCELLED ? "CANCELLED" : e.getStatus().getCode().name();
  }

  private static Throwable unwrap(Throwable t) {
    Throwable e = t;
    while ((e instanceof CompletionException || e instanceof java.util.concurrent.ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }
}

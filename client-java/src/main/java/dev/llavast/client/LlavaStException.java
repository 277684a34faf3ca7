package dev.llavast.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A failed call: the gRPC status code plus the server's {@code google.rpc} details, lifted into
 * typed fields. Immutable; any thread.
 */
public class LlavaStException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** {@code ErrorInfo.domain} of the errors of LLaVA-ST Serve. */
  public static final String DOMAIN = "llavast.dev";

  /**
   * One bad request field: its path in the request (e.g. {@code sampling.top_p}) and what is wrong.
   */
  public record FieldViolation(String field, String description) {}

  private final Status.Code code;
  private final Reason reason;
  private final String reasonName;
  private final Map<String, String> metadata;
  private final List<FieldViolation> violations;
  private final @Nullable Duration retryDelay;
  private final int attempts;
  private final String statusMessage;

  public LlavaStException(
      Status.Code code,
      String reasonName,
      String message,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      @Nullable Duration retryDelay,
      int attempts,
      @Nullable Throwable cause) {
    super(
        code
            + (reasonName.isEmpty() ? "" : " / " + reasonName)
            + ": "
            + message
            + (attempts > 1 ? " (after " + attempts + " attempts)" : ""),
        cause);
    this.code = code;
    this.reasonName = reasonName;
    this.reason = Reason.fromName(reasonName);
    this.metadata = Map.copyOf(metadata);
    this.violations = List.copyOf(violations);
    this.retryDelay = retryDelay;
    this.attempts = attempts;
    this.statusMessage = message;
  }

  /** The server's message for people, without code, reason or attempt count. */
  public String statusMessage() {
    return statusMessage;
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The typed reason; {@link Reason#UNKNOWN} when absent or not of our domain. */
  public Reason reason() {
    return reason;
  }

  /** The raw ErrorInfo reason of our domain, or "" when absent. */
  public String reasonName() {
    return reasonName;
  }

  /** ErrorInfo metadata. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** BadRequest field violations (empty unless INVALID_ARGUMENT). */
  public List<FieldViolation> violations() {
    return violations;
  }

  /** The server's RetryInfo delay, if it sent one. */
  public Optional<Duration> retryDelay() {
    return Optional.ofNullable(retryDelay);
  }

  /** How many attempts the client made before giving up (1 when it did not retry). */
  public int attempts() {
    return attempts;
  }

  /** A copy that records the number of attempts made. */
  LlavaStException withAttempts(int n) {
    if (n == attempts) {
      return this;
    }
    return new LlavaStException(
        code, reasonName, statusMessage, metadata, violations, retryDelay, n, getCause());
  }

  /** Lifts any failure of a call into a LlavaStException (UNKNOWN code for non-gRPC failures). */
  public static LlavaStException from(Throwable t) {
    if (t instanceof LlavaStException e) {
      return e;
    }
    Status status;
    io.grpc.Metadata trailers;
    if (t instanceof StatusRuntimeException sre) {
      status = sre.getStatus();
      trailers = sre.getTrailers();
    } else if (t instanceof StatusException se) {
      status = se.getStatus();
      trailers = se.getTrailers();
    } else {
      status = Status.fromThrowable(t);
      trailers = Status.trailersFromThrowable(t);
    }
    String reasonName = "";
    Map<String, String> metadata = Map.of();
    List<FieldViolation> violations = new ArrayList<>();
    @Nullable Duration retry = null;
    com.google.rpc.Status details = StatusProto.fromStatusAndTrailers(status, trailers);
    for (com.google.protobuf.Any any : details.getDetailsList()) {
      try {
        if (any.is(ErrorInfo.class)) {
          ErrorInfo info = any.unpack(ErrorInfo.class);
          if (DOMAIN.equals(info.getDomain())) {
            reasonName = info.getReason();
            metadata = info.getMetadataMap();
          }
        } else if (any.is(BadRequest.class)) {
          for (BadRequest.FieldViolation v :
              any.unpack(BadRequest.class).getFieldViolationsList()) {
            violations.add(new FieldViolation(v.getField(), v.getDescription()));
          }
        } else if (any.is(RetryInfo.class)) {
          com.google.protobuf.Duration d = any.unpack(RetryInfo.class).getRetryDelay();
          retry = Duration.ofSeconds(d.getSeconds(), d.getNanos());
        }
      } catch (InvalidProtocolBufferException ignored) {
        // a malformed detail is not worth failing the error path for; the status code still stands
      }
    }
    String msg =
        status.getDescription() != null
            ? status.getDescription()
            : (status.getCause() != null
                ? String.valueOf(status.getCause())
                : status.getCode().name());
    return new LlavaStException(
        status.getCode(), reasonName, msg, metadata, violations, retry, 1, t);
  }
}

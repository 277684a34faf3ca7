package dev.llavast.server.errors;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A request that cannot be served, as the domain reports it: a {@link Reason}, a message for
 * people, the bad fields, machine-readable metadata and, when retrying helps, when to retry. The
 * transports (gRPC, HTTP) turn it into their own status; nothing below them knows their types.
 *
 * <p>Immutable; any thread.
 */
public final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Reason reason;
  private final Reason.Kind kind;
  private final transient List<FieldViolation> violations;
  private final transient Map<String, String> metadata;
  private final @Nullable Duration retryAfter;

  private ApiException(Builder b) {
    super(b.message, b.cause);
    this.reason = b.reason;
    this.kind = b.kind;
    this.violations = List.copyOf(b.violations);
    this.metadata = Map.copyOf(b.metadata);
    this.retryAfter = b.retryAfter;
  }

  /** The message it was made with; never null. */
  @Override
  public String getMessage() {
    String m = super.getMessage();
    return m == null ? reason.name() : m;
  }

  /** An error with a reason and a message. */
  public static ApiException of(Reason reason, String message) {
    return builder(reason, message).build();
  }

  /** {@link Reason#INVALID_REQUEST} for one bad field. */
  public static ApiException invalid(String field, String description) {
    return invalid(List.of(new FieldViolation(field, description)));
  }

  /** {@link Reason#INVALID_REQUEST} with one violation per bad field (at least one). */
  public static ApiException invalid(List<FieldViolation> violations) {
    if (violations.isEmpty()) {
      throw new IllegalArgumentException("an invalid request names at least one field");
    }
    FieldViolation first = violations.get(0);
    String message =
        violations.size() == 1
            ? "invalid " + first.field() + ": " + first.description()
            : violations.size()
                + " invalid fields: "
                + first.field()
                + ": "
                + first.description()
                + "; ...";
    return builder(Reason.INVALID_REQUEST, message).violations(violations).build();
  }

  /** {@link Reason#OVERLOADED} with a retry hint. */
  public static ApiException overloaded(String message, Duration retryAfter) {
    return builder(Reason.OVERLOADED, message).retryAfter(retryAfter).build();
  }

  /** Throws {@link #invalid(List)} if {@code violations} is not empty. */
  public static void throwIfAny(List<FieldViolation> violations) {
    if (!violations.isEmpty()) {
      throw invalid(violations);
    }
  }

  public static Builder builder(Reason reason, String message) {
    return new Builder(reason, message);
  }

  public Reason reason() {
    return reason;
  }

  /** The class of failure: the reason's own unless this error overrides it. */
  public Reason.Kind kind() {
    return kind;
  }

  public List<FieldViolation> violations() {
    return violations;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }

  /** Collects an error's parts. Not thread-safe; one per error. */
  public static final class Builder {
    private final Reason reason;
    private final String message;
    private Reason.Kind kind;
    private final List<FieldViolation> violations = new java.util.ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private @Nullable Duration retryAfter;
    private @Nullable Throwable cause;

    private Builder(Reason reason, String message) {
      this.reason = Objects.requireNonNull(reason, "reason");
      this.message = Objects.requireNonNull(message, "message");
      this.kind = reason.kind();
    }

    /**
     * Another class than the reason's usual one (an upload in progress over its cap is
     * RESOURCE_EXHAUSTED).
     */
    public Builder kind(Reason.Kind k) {
      this.kind = Objects.requireNonNull(k, "kind");
      return this;
    }

    public Builder violation(String field, String description) {
      violations.add(new FieldViolation(field, description));
      return this;
    }

    public Builder violations(List<FieldViolation> all) {
      violations.addAll(all);
      return this;
    }

    public Builder metadata(String key, String value) {
      metadata.put(key, value);
      return this;
    }

    public Builder retryAfter(Duration delay) {
      this.retryAfter = delay;
      return this;
    }

    public Builder cause(Throwable t) {
      this.cause = t;
      return this;
    }

    public ApiException build() {
      return new ApiException(this);
    }
  }
}

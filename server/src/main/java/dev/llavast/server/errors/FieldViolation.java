package dev.llavast.server.errors;

import java.util.Objects;

/**
 * One bad field of a request: its path in the request (e.g. {@code sampling.top_p}) and what is
 * wrong with it, in words a client can act on.
 */
public record FieldViolation(String field, String description) {
  public FieldViolation {
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(description, "description");
  }
}

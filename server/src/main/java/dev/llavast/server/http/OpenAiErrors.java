package dev.llavast.server.http;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.errors.Reason;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * API errors as the OpenAI API shapes them: an HTTP status and {@code {"error": {"message", "type",
 * "param", "code"}}}, where {@code code} is our stable reason (the names of {@code errors.proto})
 * and {@code param} the first field at fault. The one place that maps a {@link Reason} to HTTP.
 * Stateless; any thread.
 */
final class OpenAiErrors {
  private OpenAiErrors() {}

  /** The HTTP status of an error. */
  static HttpResponseStatus status(ApiException e) {
    if (e.reason() == Reason.MEDIA_TOO_LARGE) {
      return HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
    }
    return switch (e.kind()) {
      case INVALID_ARGUMENT -> HttpResponseStatus.BAD_REQUEST;
      case NOT_FOUND -> HttpResponseStatus.NOT_FOUND;
      case ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED -> HttpResponseStatus.CONFLICT;
      case RESOURCE_EXHAUSTED -> HttpResponseStatus.TOO_MANY_REQUESTS;
      case UNAVAILABLE -> HttpResponseStatus.SERVICE_UNAVAILABLE;
      case CANCELLED -> HttpResponseStatus.valueOf(499, "Client Closed Request");
      case DEADLINE_EXCEEDED -> HttpResponseStatus.GATEWAY_TIMEOUT;
      case INTERNAL -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
      case UNIMPLEMENTED -> HttpResponseStatus.NOT_IMPLEMENTED;
      case UNAUTHENTICATED -> HttpResponseStatus.UNAUTHORIZED;
    };
  }

  /** The OpenAI error type for a status. */
  private static String type(HttpResponseStatus s) {
    return switch (s.code()) {
      case 400, 413 -> "invalid_request_error";
      case 401 -> "authentication_error";
      case 404 -> "not_found_error";
      case 409 -> "conflict_error";
      case 429 -> "rate_limit_error";
      case 503 -> "service_unavailable_error";
      default -> "server_error";
    };
  }

  /** {@code {"error": {...}}} for {@code e} sent with {@code status}. */
  static ObjectNode body(ApiException e, HttpResponseStatus status) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    ObjectNode err = root.putObject("error");
    err.put("message", e.getMessage());
    err.put("type", type(status));
    if (e.violations().isEmpty()) {
      err.putNull("param");
    } else {
      FieldViolation first = e.violations().get(0);
      err.put("param", first.field());
      if (e.violations().size() > 1) {
        var all = err.putArray("violations");
        for (FieldViolation v : e.violations()) {
          all.addObject().put("param", v.field()).put("message", v.description());
        }
      }
    }
    err.put("code", e.reason().name());
    return root;
  }
}

package dev.llavast.server.grpc;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.tenancy.ApiKeys;
import dev.llavast.server.tenancy.Tenant;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.Optional;
import java.util.Set;

/**
 * Authentication on the gRPC port: every call but the health checks carries {@code authorization:
 * Bearer <key>} when the server has API keys, and runs in its tenant's {@link Context}. A missing
 * or unknown key closes the call at once with UNAUTHENTICATED and its ErrorInfo, before any handler
 * runs. Thread-safe.
 */
final class Tenants implements ServerInterceptor {
  private static final Context.Key<Tenant> TENANT =
      Context.keyWithDefault("llavast-tenant", Tenant.OPEN);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Probes (Kubernetes, load balancers) carry no key. */
  private static final Set<String> OPEN_SERVICES = Set.of("grpc.health.v1.Health");

  private final ApiKeys keys;

  Tenants(ApiKeys keys) {
    this.keys = keys;
  }

  /**
   * The tenant of the call this thread serves ({@link Tenant#OPEN} without keys). Handler threads.
   */
  static Tenant current() {
    return TENANT.get();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!keys.required() || OPEN_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    Tenant tenant;
    try {
      tenant = keys.authenticate(Optional.ofNullable(headers.get(AUTHORIZATION)));
    } catch (ApiException e) {
      var sre = GrpcErrors.toStatus(e);
      call.close(sre.getStatus(), sre.getTrailers() == null ? new Metadata() : sre.getTrailers());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(TENANT, tenant), call, headers, next);
  }
}

package dev.llavast.server.grpc;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * Server-side gRPC metrics with the names that dashboards built for go-grpc-prometheus expect:
 * {@code grpc_server_started_total}, {@code grpc_server_handled_total} (with {@code grpc_code}) and
 * {@code grpc_server_handling_seconds}, labelled by type, service and method (never by request).
 *
 * <p>Thread-safe: gRPC calls {@link #interceptCall} on its transport threads.
 */
final class GrpcMetricsInterceptor implements ServerInterceptor {
  private final Counter started;
  private final Counter handled;
  private final Histogram handlingSeconds;

  GrpcMetricsInterceptor(PrometheusRegistry registry) {
    started =
        Counter.builder()
            .name("grpc_server_started_total")
            .help("RPCs started on the server.")
            .labelNames("grpc_type", "grpc_service", "grpc_method")
            .register(registry);
    handled =
        Counter.builder()
            .name("grpc_server_handled_total")
            .help("RPCs completed on the server, regardless of success or failure.")
            .labelNames("grpc_type", "grpc_service", "grpc_method", "grpc_code")
            .register(registry);
    handlingSeconds =
        Histogram.builder()
            .name("grpc_server_handling_seconds")
            .help("Time from the start of an RPC to its close on the server.")
            .labelNames("grpc_type", "grpc_service", "grpc_method")
            .classicUpperBounds(
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
            .register(registry);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    MethodDescriptor<Q, R> method = call.getMethodDescriptor();
    String type = typeLabel(method.getType());
    String service = method.getServiceName() == null ? "unknown" : method.getServiceName();
    String name = method.getBareMethodName() == null ? "unknown" : method.getBareMethodName();
    long startNanos = System.nanoTime();
    started.labelValues(type, service, name).inc();
    ServerCall<Q, R> monitored =
        new SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            handled.labelValues(type, service, name, status.getCode().name()).inc();
            handlingSeconds
                .labelValues(type, service, name)
                .observe((System.nanoTime() - startNanos) / 1e9);
            super.close(status, trailers);
          }
        };
    return next.startCall(monitored, headers);
  }

  private static String typeLabel(MethodDescriptor.MethodType type) {
    switch (type) {
      case UNARY:
        return "unary";
      case CLIENT_STREAMING:
        return "client_stream";
      case SERVER_STREAMING:
        return "server_stream";
      case BIDI_STREAMING:
        return "bidi_stream";
      default:
        return "unknown";
    }
  }
}

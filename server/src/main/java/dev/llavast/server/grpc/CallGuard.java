package dev.llavast.server.grpc;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.errors.Unexpected;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * No call is ever left open and every failure has its ErrorInfo: a handler that throws unexpectedly
 * ends its call with INTERNAL / MODEL_FAILURE (logged once, with an error id the client also gets),
 * and request bytes that are not a valid message of the method's type end it with INVALID_ARGUMENT
 * / INVALID_REQUEST, where gRPC alone answers UNKNOWN "Application error processing RPC". The
 * innermost interceptor of every API service; {@link #lenient} wraps the service so that a message
 * that does not parse reaches it as null. Thread-safe.
 */
final class CallGuard implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(CallGuard.class);

  /** {@code service} with request marshallers that hand an unparsable message on as null. */
  static ServerServiceDefinition lenient(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(original.getName())
            .setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<?, ?> wrapped = lenientMethod(m);
      descriptor.addMethod(wrapped.getMethodDescriptor());
      methods.add(wrapped);
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(out::addMethod);
    return out.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> lenientMethod(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> md = m.getMethodDescriptor();
    MethodDescriptor.Marshaller<Q> strict = md.getRequestMarshaller();
    MethodDescriptor.Marshaller<Q> lenient =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(Q value) {
            return strict.stream(value);
          }

          @Override
          public @Nullable Q parse(InputStream stream) {
            try {
              return strict.parse(stream);
            } catch (RuntimeException e) {
              return null; // CallGuard answers INVALID_ARGUMENT
            }
          }
        };
    return ServerMethodDefinition.create(
        md.toBuilder().setRequestMarshaller(lenient).build(), m.getServerCallHandler());
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Guarded<Q, R> guarded = new Guarded<>(call);
    ServerCall.Listener<Q> delegate;
    try {
      delegate = next.startCall(guarded, headers);
    } catch (RuntimeException e) {
      guarded.fail(e);
      return new ServerCall.Listener<>() {};
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(Q message) {
        if (guarded.closed.get()) {
          return; // refused or failed already: later messages of a stream are dropped
        }
        if (message == null) {
          guarded.closeOnce(
              GrpcErrors.toStatus(
                  ApiException.of(
                      Reason.INVALID_REQUEST,
                      "the request is not a valid "
                          + call.getMethodDescriptor().getFullMethodName()
                          + " request message")));
          return;
        }
        try {
          super.onMessage(message);
        } catch (RuntimeException e) {
          guarded.fail(e);
        }
      }

      @Override
      public void onHalfClose() {
        if (guarded.closed.get()) {
          return; // refused in onMessage: the handler must not see a call without its message
        }
        try {
          super.onHalfClose();
        } catch (RuntimeException e) {
          guarded.fail(e);
        }
      }

      @Override
      public void onReady() {
        try {
          super.onReady();
        } catch (RuntimeException e) {
          guarded.fail(e);
        }
      }
    };
  }

  /** The call as its handler sees it; remembers whether it was closed. */
  private static final class Guarded<Q, R>
      extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    final AtomicBoolean closed = new AtomicBoolean();

    Guarded(ServerCall<Q, R> call) {
      super(call);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      if (!closed.get()) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public void sendMessage(R message) {
      if (!closed.get()) {
        super.sendMessage(message);
      }
    }

    @Override
    public void close(Status status, Metadata trailers) {
      if (closed.compareAndSet(false, true)) {
        super.close(status, trailers);
      }
    }

    void closeOnce(StatusRuntimeException e) {
      close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
    }

    /** An unexpected exception: logged once with an id, the call ended INTERNAL with that id. */
    void fail(RuntimeException e) {
      if (closed.get()) {
        log.warn(
            "{}: a handler threw after its call ended",
            getMethodDescriptor().getFullMethodName(),
            e);
        return;
      }
      closeOnce(
          GrpcErrors.toStatus(Unexpected.report(getMethodDescriptor().getFullMethodName(), e)));
    }
  }
}

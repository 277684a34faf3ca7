package dev.llavast.server;

import com.google.rpc.ErrorInfo;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A unary call whose request is raw bytes, for tests that send what no stub would. Any thread. */
public final class RawCall {
  private RawCall() {}

  /** How a raw call ended: its status and the ErrorInfo reason, or "" when it has none. */
  public record Result(Status status, String reason) {}

  private static final MethodDescriptor.Marshaller<byte[]> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  /**
   * Sends {@code bytes} as the one request of unary {@code method}; waits at most {@code deadline}
   * plus 10 s.
   */
  public static Result unary(Channel channel, String method, byte[] bytes, Duration deadline)
      throws Exception {
    MethodDescriptor<byte[], byte[]> descriptor =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(method)
            .setRequestMarshaller(RAW)
            .setResponseMarshaller(RAW)
            .build();
    ClientCall<byte[], byte[]> call =
        channel.newCall(
            descriptor,
            CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS));
    CompletableFuture<Result> closed = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            com.google.rpc.Status details = StatusProto.fromStatusAndTrailers(status, trailers);
            String reason =
                details == null
                    ? ""
                    : details.getDetailsList().stream()
                        .filter(a -> a.is(ErrorInfo.class))
                        .map(
                            a -> {
                              try {
                                return a.unpack(ErrorInfo.class).getReason();
                              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                                return "";
                              }
                            })
                        .findFirst()
                        .orElse("");
            closed.complete(new Result(status, reason));
          }
        },
        new Metadata());
    call.request(1);
    call.sendMessage(bytes);
    call.halfClose();
    return closed.get(deadline.toSeconds() + 10, TimeUnit.SECONDS);
  }
}

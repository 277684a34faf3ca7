package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.server.ServerConfig;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Failures gRPC would answer with a bare UNKNOWN reach the client as documented errors, over a
 * real loopback server: a handler that throws, and request bytes that are not a message.
 */
@Timeout(60)
class CallGuardTest {
  /** A generation service whose handler fails the way a bug would: by throwing. */
  private static final class Broken extends GenerationServiceGrpc.GenerationServiceImplBase {
    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateFinal> out) {
      throw new IllegalStateException("bug at /opt/llavast/secret.bin");
    }
  }

  private LlavaStServer server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    server = LlavaStServer.start(ServerConfig.defaults().withEphemeralPorts(), List.of(new Broken()));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  @Test
  void aThrowingHandlerEndsItsCallInternalWithAnErrorIdAndTheServerKeepsServing() {
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> GenerationServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .generate(GenerateRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
            ErrorInfo info = errorInfo(e);
            assertThat(info.getReason()).isEqualTo("MODEL_FAILURE");
            String id = info.getMetadataOrThrow("error_id");
            assertThat(id).matches("[0-9a-f]{12}");
            assertThat(e.getStatus().getDescription()).contains(id).doesNotContain("/opt", "IllegalState", "bug");
          });
    }
    assertThat(AdminServiceGrpc.newBlockingStub(channel).getServerStatus(GetServerStatusRequest.getDefaultInstance())
        .getReady()).isFalse();
  }

  @Test
  void requestBytesThatAreNotAMessageAreInvalidArgument() throws Exception {
    // A field tag whose varint never ends: no protobuf parser accepts it.
    byte[] garbage = {(byte) 0x0a, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
    for (String method : List.of(AdminServiceGrpc.getGetServerStatusMethod().getFullMethodName(),
        GenerationServiceGrpc.getGenerateMethod().getFullMethodName())) {
      Status status = rawCall(method, garbage);
      assertThat(status.getCode()).as(method).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(status.getDescription()).contains("not a valid").doesNotContain("protobuf", "Exception");
      ErrorInfo info = errorInfo(status.asRuntimeException(lastTrailers));
      assertThat(info.getReason()).isEqualTo("INVALID_REQUEST");
    }
    assertThat(AdminServiceGrpc.newBlockingStub(channel).getServerStatus(GetServerStatusRequest.getDefaultInstance())
        .getReady()).isFalse();
  }

  private Metadata lastTrailers;

  /** Sends {@code bytes} as the one request message of {@code method} and returns how the call ended. */
  private Status rawCall(String method, byte[] bytes) throws Exception {
    MethodDescriptor.Marshaller<byte[]> raw = new MethodDescriptor.Marshaller<>() {
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
    MethodDescriptor<byte[], byte[]> descriptor = MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName(method)
        .setRequestMarshaller(raw).setResponseMarshaller(raw).build();
    ClientCall<byte[], byte[]> call = channel.newCall(descriptor, CallOptions.DEFAULT.withDeadlineAfter(10,
        TimeUnit.SECONDS));
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        lastTrailers = trailers;
        closed.complete(status);
      }
    }, new Metadata());
    call.request(1);
    call.sendMessage(bytes);
    call.halfClose();
    return closed.get(15, TimeUnit.SECONDS);
  }

  private static ErrorInfo errorInfo(StatusRuntimeException e) {
    try {
      return StatusProto.fromThrowable(e).getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).findFirst()
          .orElseThrow().unpack(ErrorInfo.class);
    } catch (com.google.protobuf.InvalidProtocolBufferException x) {
      throw new AssertionError(x);
    }
  }
}

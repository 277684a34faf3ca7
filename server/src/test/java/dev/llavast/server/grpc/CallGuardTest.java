package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.server.RawCall;
import dev.llavast.server.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Failures gRPC would answer with a bare UNKNOWN reach the client as documented errors, over a real
 * loopback server: a handler that throws, and request bytes that are not a message.
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
    server =
        LlavaStServer.start(ServerConfig.defaults().withEphemeralPorts(), List.of(new Broken()));
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
      assertThatThrownBy(
              () ->
                  GenerationServiceGrpc.newBlockingStub(channel)
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .generate(GenerateRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
                ErrorInfo info = errorInfo(e);
                assertThat(info.getReason()).isEqualTo("MODEL_FAILURE");
                String id = info.getMetadataOrThrow("error_id");
                assertThat(id).matches("[0-9a-f]{12}");
                assertThat(e.getStatus().getDescription())
                    .contains(id)
                    .doesNotContain("/opt", "IllegalState", "bug");
              });
    }
    assertThat(
            AdminServiceGrpc.newBlockingStub(channel)
                .getServerStatus(GetServerStatusRequest.getDefaultInstance())
                .getReady())
        .isFalse();
  }

  @Test
  void requestBytesThatAreNotAMessageAreInvalidArgument() throws Exception {
    // A field tag whose varint never ends: no protobuf parser accepts it.
    byte[] garbage = {
      (byte) 0x0a, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff
    };
    for (String method :
        List.of(
            AdminServiceGrpc.getGetServerStatusMethod().getFullMethodName(),
            GenerationServiceGrpc.getGenerateMethod().getFullMethodName())) {
      RawCall.Result r = RawCall.unary(channel, method, garbage, Duration.ofSeconds(10));
      assertThat(r.status().getCode()).as(method).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(r.status().getDescription())
          .contains("not a valid")
          .doesNotContain("protobuf", "Exception");
      assertThat(r.reason()).isEqualTo("INVALID_REQUEST");
    }
    assertThat(
            AdminServiceGrpc.newBlockingStub(channel)
                .getServerStatus(GetServerStatusRequest.getDefaultInstance())
                .getReady())
        .isFalse();
  }

  private static ErrorInfo errorInfo(StatusRuntimeException e) {
    try {
      return StatusProto.fromThrowable(e).getDetailsList().stream()
          .filter(d -> d.is(ErrorInfo.class))
          .findFirst()
          .orElseThrow()
          .unpack(ErrorInfo.class);
    } catch (com.google.protobuf.InvalidProtocolBufferException x) {
      throw new AssertionError(x);
    }
  }
}

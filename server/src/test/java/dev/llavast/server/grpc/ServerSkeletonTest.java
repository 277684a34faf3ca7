package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GetModelInfoRequest;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.server.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The gRPC process with no model behind it (health, reflection, admin, metrics, drain) over a real
 * Netty server on a loopback port.
 */
@Timeout(60)
class ServerSkeletonTest {
  private LlavaStServer server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    server = LlavaStServer.start(ServerConfig.defaults().withEphemeralPorts(), List.of());
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  @Test
  void livenessServesAndReadinessWaitsForAModel() {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
    assertThat(
            health
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService(ServerConfig.LIVENESS_SERVICE)
                        .build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThat(
            health
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService(ServerConfig.READINESS_SERVICE)
                        .build())
                .getStatus())
        .isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(
            AdminServiceGrpc.newBlockingStub(channel)
                .getServerStatus(GetServerStatusRequest.getDefaultInstance())
                .getReady())
        .isFalse();

    server.markReady();
    assertThat(
            health
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService(ServerConfig.READINESS_SERVICE)
                        .build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
  }

  @Test
  void reflectionListsEveryApiService() throws Exception {
    CompletableFuture<List<String>> names = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse r) {
                    names.complete(
                        r.getListServicesResponse().getServiceList().stream()
                            .map(ServiceResponse::getName)
                            .collect(Collectors.toList()));
                  }

                  @Override
                  public void onError(Throwable t) {
                    names.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());
    List<String> services = names.get(10, TimeUnit.SECONDS);
    requests.onCompleted();
    assertThat(services)
        .contains(
            "llavast.v1.AdminService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection");
  }

  @Test
  void modelInfoWithoutAModelAnswersUnimplementedWithReasonAndMessage() {
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                AdminServiceGrpc.newBlockingStub(channel)
                    .getModelInfo(GetModelInfoRequest.getDefaultInstance()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
    assertThat(e.getStatus().getDescription())
        .contains("AdminService.GetModelInfo", "no model is loaded");
    com.google.rpc.Status details = StatusProto.fromThrowable(e);
    assertThat(details).isNotNull();
    ErrorInfo info =
        details.getDetailsList().stream()
            .filter(a -> a.is(ErrorInfo.class))
            .map(
                a -> {
                  try {
                    return a.unpack(ErrorInfo.class);
                  } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                    throw new AssertionError(x);
                  }
                })
            .findFirst()
            .orElseThrow();
    assertThat(info.getReason()).isEqualTo("NOT_IMPLEMENTED");
    assertThat(info.getDomain()).isEqualTo(GrpcErrors.DOMAIN);

    // The server keeps serving after the error.
    ServerStatus status =
        AdminServiceGrpc.newBlockingStub(channel)
            .getServerStatus(GetServerStatusRequest.getDefaultInstance());
    assertThat(status.getDraining()).isFalse();
  }

  @Test
  void metricsEndpointExposesGrpcAndJvmMetrics() throws Exception {
    HealthGrpc.newBlockingStub(channel)
        .check(HealthCheckRequest.newBuilder().setService(ServerConfig.LIVENESS_SERVICE).build());
    assertThatThrownBy(
            () ->
                AdminServiceGrpc.newBlockingStub(channel)
                    .getModelInfo(GetModelInfoRequest.getDefaultInstance()))
        .isInstanceOf(StatusRuntimeException.class);

    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:" + server.metricsPort() + ServerConfig.METRICS_PATH))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    String body = response.body();
    assertThat(body)
        .contains(
            "grpc_server_started_total{grpc_method=\"Check\",grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 1",
            "grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\",grpc_method=\"GetModelInfo\","
                + "grpc_service=\"llavast.v1.AdminService\",grpc_type=\"unary\"} 1",
            "grpc_server_handling_seconds_bucket{",
            "grpc_server_handling_seconds_count{",
            "jvm_memory_used_bytes");
  }

  @Test
  void drainTurnsReadinessOffAndRefusesNewCalls() {
    server.markReady();
    assertThat(server.drain(Duration.ofSeconds(5))).isTrue();
    assertThat(server.isReady()).isFalse();
    assertThat(server.isDraining()).isTrue();
    assertThatThrownBy(
            () ->
                HealthGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(5, TimeUnit.SECONDS)
                    .check(
                        HealthCheckRequest.newBuilder()
                            .setService(ServerConfig.READINESS_SERVICE)
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
  }
}

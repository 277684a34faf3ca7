package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.api.v1.GenerateDelta;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Flow control over a real loopback Netty connection. */
@Timeout(60)
class FlowControlledStreamTest {
  private static final String BIG = "x".repeat(64 * 1024);
  private final ExecutorService handlers = Executors.newFixedThreadPool(4);
  private final ExecutorService producer = Executors.newSingleThreadExecutor();
  private final CountDownLatch slowConsumer = new CountDownLatch(1);
  private final CompletableFuture<Integer> producerSent = new CompletableFuture<>();
  private Server server;
  private ManagedChannel channel;

  /** Streams `count` 64 KiB deltas and a final from a producer thread that never blocks. */
  private final class Streamer extends GenerationServiceGrpc.GenerationServiceImplBase {
    @Override
    public void generateStream(
        GenerateRequest request, StreamObserver<GenerateStreamResponse> response) {
      int count = Integer.parseInt(request.getRequestId());
      // A bound above the message count never trips; below it, only a client that stops reading
      // trips it.
      int bound = count <= 200 ? 256 : 32;
      FlowControlledStream<GenerateStreamResponse> out =
          new FlowControlledStream<>(
              (ServerCallStreamObserver<GenerateStreamResponse>) response,
              handlers,
              bound,
              slowConsumer::countDown);
      producer.execute(
          () -> {
            try {
              int sent = 0;
              for (int i = 0; i < count; i++) {
                if (out.send(
                    GenerateStreamResponse.newBuilder()
                        .setDelta(GenerateDelta.newBuilder().setText(i + ":" + BIG))
                        .build())) {
                  sent++;
                }
              }
              out.send(
                  GenerateStreamResponse.newBuilder()
                      .setFinal(GenerateFinal.newBuilder().setText("done"))
                      .build());
              out.complete();
              producerSent.complete(sent);
            } catch (Throwable t) {
              producerSent.completeExceptionally(t);
            }
          });
    }
  }

  private void start() throws Exception {
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .executor(handlers)
            .addService(new Streamer())
            .build()
            .start();
    channel =
        NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
            .usePlaintext()
            .maxInboundMessageSize(1 << 20)
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    handlers.shutdownNow();
    producer.shutdownNow();
  }

  @Test
  void aReadingClientGetsEveryMessageInOrder() throws Exception {
    start();
    Iterator<GenerateStreamResponse> it =
        GenerationServiceGrpc.newBlockingStub(channel)
            .generateStream(GenerateRequest.newBuilder().setRequestId("200").build());
    List<String> prefixes = new ArrayList<>();
    String last = null;
    while (it.hasNext()) {
      GenerateStreamResponse r = it.next();
      if (r.hasDelta()) {
        String t = r.getDelta().getText();
        prefixes.add(t.substring(0, t.indexOf(':')));
      } else {
        last = r.getFinal().getText();
      }
    }
    assertThat(prefixes).hasSize(200);
    for (int i = 0; i < 200; i++) {
      assertThat(prefixes.get(i)).isEqualTo(Integer.toString(i));
    }
    assertThat(last).isEqualTo("done");
    assertThat(producerSent.get(5, TimeUnit.SECONDS)).isEqualTo(200);
    assertThat(slowConsumer.getCount()).isEqualTo(1);
  }

  @Test
  void aClientThatStopsReadingIsFailedWithoutBlockingTheProducer() throws Exception {
    start();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    AtomicReference<ClientCallStreamObserver<GenerateRequest>> client = new AtomicReference<>();
    GenerationServiceGrpc.newStub(channel)
        .generateStream(
            GenerateRequest.newBuilder().setRequestId("300").build(),
            new ClientResponseObserver<GenerateRequest, GenerateStreamResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<GenerateRequest> requestStream) {
                requestStream.disableAutoRequestWithInitial(
                    1); // read one message, then stop reading
                client.set(requestStream);
              }

              @Override
              public void onNext(GenerateStreamResponse value) {}

              @Override
              public void onError(Throwable t) {
                closed.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                closed.complete(Status.OK);
              }
            });
    // The producer finishes its 300 sends quickly: it never waits for the client.
    assertThat(producerSent.get(20, TimeUnit.SECONDS)).isLessThan(300);
    assertThat(slowConsumer.await(20, TimeUnit.SECONDS)).isTrue();
    // gRPC delivers the call's status only after the messages already received, so read them now.
    client.get().request(Integer.MAX_VALUE);
    Status status = closed.get(20, TimeUnit.SECONDS);
    assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(status.getDescription()).contains("did not read the stream");
  }
}

package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.api.v1.UploadHeader;
import dev.llavast.api.v1.UploadMediaRequest;
import dev.llavast.api.v1.WorkerStatus;
import dev.llavast.models.TinyCheckpoints;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A real server on loopback with a client channel to it, for the end-to-end tests. Test thread
 * only.
 */
final class E2eClient implements AutoCloseable {
  final Serving serving;
  final ManagedChannel channel;

  private E2eClient(Serving serving) {
    this.serving = serving;
    this.channel =
        NettyChannelBuilder.forAddress("127.0.0.1", serving.server().port())
            .usePlaintext()
            .maxInboundMessageSize(64 << 20)
            .build();
  }

  /** Writes the tiny random-weight checkpoint into {@code dir} and returns it. */
  static Path tinyCheckpoint(Path dir, long seed) throws Exception {
    TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, seed);
    return dir;
  }

  /**
   * A config on free loopback ports with the given model, devices and limits; the rest are
   * defaults.
   */
  static ServerConfig config(
      Path modelDir,
      String devices,
      int maxQueuedRequests,
      long maxUploadBytes,
      int kvBlocks,
      int maxRunningSequences) {
    return ServerConfig.defaults().withEphemeralPorts().toBuilder()
        .modelDir(Optional.of(modelDir))
        .devices(devices)
        .maxQueuedRequests(maxQueuedRequests)
        .maxUploadBytes(maxUploadBytes)
        .kvBlocks(kvBlocks)
        .maxRunningSequences(maxRunningSequences)
        .drainTimeout(Duration.ofSeconds(5))
        .build();
  }

  /** Starts a server and waits until readiness is SERVING (the warm-up generation passed). */
  static E2eClient start(ServerConfig config, Duration readyWithin) throws Exception {
    Serving s = Serving.start(config);
    E2eClient c = new E2eClient(s);
    try {
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(c.channel);
      long end = System.nanoTime() + readyWithin.toNanos();
      while (true) {
        ServingStatus st =
            health
                .withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService(ServerConfig.READINESS_SERVICE)
                        .build())
                .getStatus();
        if (st == ServingStatus.SERVING) {
          break;
        }
        if (System.nanoTime() > end) {
          throw new AssertionError("readiness still " + st + " after " + readyWithin);
        }
        Thread.sleep(50);
      }
      return c;
    } catch (Exception | AssertionError e) {
      c.close();
      throw e;
    }
  }

  /** Uploads bytes as one media item in chunks of at most 64 KiB. */
  MediaInfo upload(MediaKind kind, byte[] bytes, String label) throws Exception {
    return upload(channel, kind, bytes, label);
  }

  /** Uploads through {@code ch} (e.g. the channel with a tenant's API key). */
  static MediaInfo upload(io.grpc.Channel ch, MediaKind kind, byte[] bytes, String label)
      throws Exception {
    java.util.List<byte[]> chunks = new java.util.ArrayList<>();
    for (int off = 0; off < bytes.length; off += 64 << 10) {
      chunks.add(
          java.util.Arrays.copyOfRange(bytes, off, Math.min(off + (64 << 10), bytes.length)));
    }
    CompletableFuture<MediaInfo> done =
        uploadAsync(ch, UploadHeader.newBuilder().setKind(kind).setLabel(label).build(), chunks);
    try {
      return done.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof Exception x) {
        throw x;
      }
      throw e;
    }
  }

  /** Sends {@code header} then one message per chunk; the future ends as the upload does. */
  static CompletableFuture<MediaInfo> uploadAsync(
      io.grpc.Channel ch, UploadHeader header, java.util.List<byte[]> chunks) {
    CompletableFuture<MediaInfo> done = new CompletableFuture<>();
    StreamObserver<UploadMediaRequest> req =
        MediaServiceGrpc.newStub(ch)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .uploadMedia(
                new StreamObserver<>() {
                  @Override
                  public void onNext(MediaInfo value) {
                    done.complete(value);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    req.onNext(UploadMediaRequest.newBuilder().setHeader(header).build());
    chunks.forEach(
        b -> req.onNext(UploadMediaRequest.newBuilder().setChunk(ByteString.copyFrom(b)).build()));
    req.onCompleted();
    return done;
  }

  ServerStatus status() {
    return AdminServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .getServerStatus(GetServerStatusRequest.getDefaultInstance());
  }

  /** KV blocks referenced by a sequence, over all workers. */
  int kvBlocksUsed() {
    return status().getWorkersList().stream().mapToInt(WorkerStatus::getKvBlocksUsed).sum();
  }

  /** Polls until no KV block is referenced by a sequence (cached prefix blocks do not count). */
  void awaitNoBlocksUsed(Duration within) throws InterruptedException {
    long end = System.nanoTime() + within.toNanos();
    int used = kvBlocksUsed();
    while (used != 0 && System.nanoTime() < end) {
      Thread.sleep(20);
      used = kvBlocksUsed();
    }
    assertThat(used).as("KV blocks still used %s after the request ended", within).isZero();
  }

  /** The Prometheus text of {@code /metrics}. */
  String scrapeMetrics() throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:"
                                + serving.server().metricsPort()
                                + ServerConfig.METRICS_PATH))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    serving.close();
  }
}

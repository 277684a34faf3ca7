package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.DeleteMediaRequest;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.UploadHeader;
import dev.llavast.api.v1.UploadMediaRequest;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.server.ServerConfig;
import dev.llavast.server.media.CountingModelExecutor;
import dev.llavast.server.media.DecoderProbe;
import dev.llavast.server.media.FeatureCache;
import dev.llavast.server.media.MediaPipeline;
import dev.llavast.server.media.MediaStore;
import dev.llavast.server.media.MediaTestFiles;
import dev.llavast.server.observability.Metrics;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** MediaService over a real Netty server on 127.0.0.1, with the real decoder as probe. */
@Timeout(120)
class MediaServiceTest {
  private static final long MAX_UPLOAD = 200_000;
  private static final int MAX_CHUNK = 16 * 1024;

  @TempDir Path dir;
  private Path mediaDir;
  private MediaStore store;
  private FeatureCache cache;
  private ExecutorService probePool;
  private LlavaStServer server;
  private ManagedChannel channel;
  private MediaServiceGrpc.MediaServiceBlockingStub blocking;
  private MediaServiceGrpc.MediaServiceStub async;

  @BeforeEach
  void setUp() throws Exception {
    ServerConfig config =
        ServerConfig.builder()
            .port(0)
            .metricsPort(-1)
            .httpPort(-1)
            .handlerThreads(8)
            .maxUploadBytes(MAX_UPLOAD)
            .maxChunkBytes(MAX_CHUNK)
            .featureCacheBytes(1 << 20)
            .build();
    mediaDir = dir.resolve("media");
    store = new MediaStore(Optional.of(mediaDir), config.maxUploadBytes());
    cache = new FeatureCache(1 << 20, Runnable::run, Metrics.noop());
    probePool = MediaPipeline.newDecodePool(2, 16, 0);
    MediaDecoder decoder = new MediaDecoder(MediaLimits.defaults().withMaxSize(1000, 1000));
    server =
        LlavaStServer.start(
            config,
            List.of(
                new MediaServiceImpl(
                    config.maxChunkBytes(),
                    config.maxUploadBytes(),
                    store,
                    new DecoderProbe(decoder),
                    probePool,
                    cache)));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    blocking = MediaServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    async = MediaServiceGrpc.newStub(channel);
  }

  @AfterEach
  void tearDown() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    probePool.shutdownNow();
    store.close();
  }

  // ---------------------------------------------------------------- helpers

  private static UploadMediaRequest header(
      MediaKind kind, String label, double fps, long expected) {
    return UploadMediaRequest.newBuilder()
        .setHeader(
            UploadHeader.newBuilder()
                .setKind(kind)
                .setLabel(label)
                .setFramesFps(fps)
                .setExpectedSizeBytes(expected))
        .build();
  }

  private static UploadMediaRequest chunk(byte[] b, int from, int to) {
    return UploadMediaRequest.newBuilder()
        .setChunk(ByteString.copyFrom(b, from, to - from))
        .build();
  }

  private static List<UploadMediaRequest> chunked(
      UploadMediaRequest header, byte[] content, int chunkSize) {
    List<UploadMediaRequest> msgs = new ArrayList<>();
    msgs.add(header);
    for (int i = 0; i < content.length; i += chunkSize) {
      msgs.add(chunk(content, i, Math.min(content.length, i + chunkSize)));
    }
    return msgs;
  }

  /** Sends the messages as one UploadMedia call; returns the answer or throws its status. */
  private MediaInfo upload(List<UploadMediaRequest> messages) throws Exception {
    CompletableFuture<MediaInfo> result = new CompletableFuture<>();
    StreamObserver<UploadMediaRequest> requests =
        async
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .uploadMedia(
                new StreamObserver<>() {
                  MediaInfo info;

                  @Override
                  public void onNext(MediaInfo value) {
                    info = value;
                  }

                  @Override
                  public void onError(Throwable t) {
                    result.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {
                    result.complete(info);
                  }
                });
    for (UploadMediaRequest m : messages) {
      if (result.isDone()) {
        break;
      }
      requests.onNext(m);
    }
    requests.onCompleted();
    try {
      return result.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  private StatusRuntimeException uploadFails(List<UploadMediaRequest> messages) {
    return catchThrowableOfType(StatusRuntimeException.class, () -> upload(messages));
  }

  private static String reason(StatusRuntimeException e) {
    return RequestValidatorTest.unpack(e, ErrorInfo.class).getReason();
  }

  private static String field(StatusRuntimeException e) {
    return RequestValidatorTest.unpack(e, BadRequest.class).getFieldViolations(0).getField();
  }

  private static String sha256(byte[]... parts) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) {
      md.update(p);
    }
    return "sha256:" + HexFormat.of().formatHex(md.digest());
  }

  private byte[] video() throws Exception {
    return Files.readAllBytes(
        MediaTestFiles.movingSquare(dir.resolve("square.mp4"), 64, 48, 30, 10));
  }

  /** Files in the media directory: stored items plus any partial uploads. */
  private List<String> filesLeft() throws Exception {
    if (!Files.exists(mediaDir)) {
      return List.of();
    }
    try (var s = Files.list(mediaDir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private List<String> partialFiles() throws Exception {
    return filesLeft().stream().filter(n -> n.endsWith(".part")).toList();
  }

  // ---------------------------------------------------------------- tests

  @Test
  void uploadsAVideoAnImageAndFramesWithTheirMetadataAndDeduplicates() throws Exception {
    byte[] video = video();
    assertThat(video.length).isLessThan((int) MAX_UPLOAD);
    MediaInfo v =
        upload(
            chunked(
                header(MediaKind.MEDIA_KIND_VIDEO, "square.mp4", 0, video.length), video, 4096));
    assertThat(v.getMediaId()).isEqualTo(sha256(video));
    assertThat(v.getKind()).isEqualTo(MediaKind.MEDIA_KIND_VIDEO);
    assertThat(v.getLabel()).isEqualTo("square.mp4");
    assertThat(v.getSizeBytes()).isEqualTo(video.length);
    assertThat(v.getFrameCount()).isEqualTo(30);
    assertThat(v.getFps()).isEqualTo(10.0);
    assertThat(v.getWidthPx()).isEqualTo(64);
    assertThat(v.getHeightPx()).isEqualTo(48);
    assertThat(v.getDurationSeconds()).isBetween(2.9, 3.11);
    assertThat(v.getAlreadyPresent()).isFalse();
    assertThat(v.getFeaturesCached()).isFalse();

    MediaInfo again =
        upload(chunked(header(MediaKind.MEDIA_KIND_VIDEO, "copy.mp4", 0, 0), video, MAX_CHUNK));
    assertThat(again.getMediaId()).isEqualTo(v.getMediaId());
    assertThat(again.getAlreadyPresent()).isTrue();
    assertThat(again.getLabel()).as("the first upload's label is kept").isEqualTo("square.mp4");

    byte[] png = MediaTestFiles.png(40, 30, 200, 100, 50);
    MediaInfo img = upload(chunked(header(MediaKind.MEDIA_KIND_IMAGE, "", 0, 0), png, 100));
    assertThat(img.getMediaId()).isEqualTo(sha256(png));
    assertThat(img.getFrameCount()).isEqualTo(1);
    assertThat(img.getDurationSeconds()).isZero();
    assertThat(img.getFps()).isZero();
    assertThat(img.getWidthPx()).isEqualTo(40);
    assertThat(img.getHeightPx()).isEqualTo(30);

    byte[] f0 = MediaTestFiles.png(20, 10, 1, 2, 3);
    byte[] f1 = MediaTestFiles.png(20, 10, 4, 5, 6);
    byte[] f2 = MediaTestFiles.png(20, 10, 7, 8, 9);
    List<UploadMediaRequest> framesMsgs =
        List.of(
            header(MediaKind.MEDIA_KIND_FRAMES, "frames", 2.0, 0),
            chunk(f0, 0, f0.length),
            chunk(f1, 0, f1.length),
            chunk(f2, 0, f2.length));
    MediaInfo frames = upload(framesMsgs);
    assertThat(frames.getMediaId())
        .isEqualTo(
            sha256(
                ByteBuffer.allocate(4).putInt(f0.length).array(),
                f0,
                ByteBuffer.allocate(4).putInt(f1.length).array(),
                f1,
                ByteBuffer.allocate(4).putInt(f2.length).array(),
                f2,
                ByteBuffer.allocate(8).putDouble(2.0).array()));
    assertThat(frames.getFrameCount()).isEqualTo(3);
    assertThat(frames.getFps()).isEqualTo(2.0);
    assertThat(frames.getDurationSeconds()).isEqualTo(1.5);
    assertThat(frames.getWidthPx()).isEqualTo(20);
    assertThat(frames.getSizeBytes()).isEqualTo(12 + f0.length + f1.length + f2.length);
    MediaInfo got =
        blocking.getMedia(GetMediaRequest.newBuilder().setMediaId(v.getMediaId()).build());
    assertThat(got).isEqualTo(v);
    assertThat(store.count()).isEqualTo(3);
    assertThat(filesLeft()).hasSize(3);
    // expected_size_bytes announces the content sent (the frames' bytes), not the stored size with
    // its 4-byte frame lengths: the same frames announced that way are accepted (and already
    // present)
    long content = f0.length + f1.length + f2.length;
    MediaInfo announced =
        upload(
            List.of(
                header(MediaKind.MEDIA_KIND_FRAMES, "frames", 2.0, content),
                chunk(f0, 0, f0.length),
                chunk(f1, 0, f1.length),
                chunk(f2, 0, f2.length)));
    assertThat(announced.getMediaId()).isEqualTo(frames.getMediaId());
    assertThat(announced.getAlreadyPresent()).isTrue();
    StatusRuntimeException overAnnounced =
        uploadFails(
            List.of(
                header(MediaKind.MEDIA_KIND_FRAMES, "frames", 2.0, content - 1),
                chunk(f0, 0, f0.length),
                chunk(f1, 0, f1.length),
                chunk(f2, 0, f2.length)));
    assertThat(field(overAnnounced)).isEqualTo("header.expected_size_bytes");
    assertThat(overAnnounced.getStatus().getDescription()).contains("sent " + content + " bytes");

    awaitNoPartialFiles();
    assertThat(store.count()).isEqualTo(3);
    assertThat(filesLeft()).hasSize(3);
  }

  @Test
  void oversizedUploadsAreRefusedWithTheirReasonAndLeaveNoFile() throws Exception {
    StatusRuntimeException announced =
        uploadFails(
            List.of(
                header(MediaKind.MEDIA_KIND_VIDEO, "", 0, MAX_UPLOAD + 1),
                chunk(new byte[10], 0, 10)));
    assertThat(announced.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(reason(announced)).isEqualTo("MEDIA_TOO_LARGE");

    byte[] big = new byte[(int) MAX_UPLOAD + MAX_CHUNK];
    StatusRuntimeException total =
        uploadFails(chunked(header(MediaKind.MEDIA_KIND_VIDEO, "", 0, 0), big, MAX_CHUNK));
    assertThat(total.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(reason(total)).isEqualTo("MEDIA_TOO_LARGE");
    assertThat(total.getStatus().getDescription()).contains(Long.toString(MAX_UPLOAD));

    StatusRuntimeException oneChunk =
        uploadFails(
            List.of(
                header(MediaKind.MEDIA_KIND_VIDEO, "", 0, 0),
                chunk(new byte[MAX_CHUNK + 1], 0, MAX_CHUNK + 1)));
    assertThat(oneChunk.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(oneChunk)).isEqualTo("INVALID_REQUEST");
    assertThat(field(oneChunk)).isEqualTo("chunk");
    assertThat(oneChunk.getStatus().getDescription()).contains(Integer.toString(MAX_CHUNK + 1));

    // an image over the decoder's resolution limit (1000 x 1000 here) is too large, not broken
    byte[] wide = MediaTestFiles.png(1001, 4, 0, 0, 0);
    StatusRuntimeException tooWide =
        uploadFails(chunked(header(MediaKind.MEDIA_KIND_IMAGE, "", 0, 0), wide, MAX_CHUNK));
    assertThat(tooWide.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(tooWide)).isEqualTo("MEDIA_TOO_LARGE");
    assertThat(tooWide.getStatus().getDescription()).contains("1001x4");

    awaitNoPartialFiles();
    assertThat(filesLeft()).isEmpty();
    assertThat(store.count()).isZero();
  }

  @Test
  void malformedStreamsAreInvalidArgumentOnTheRightField() throws Exception {
    StatusRuntimeException noHeader = uploadFails(List.of(chunk(new byte[10], 0, 10)));
    assertThat(noHeader.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(field(noHeader)).isEqualTo("header");

    StatusRuntimeException empty = uploadFails(List.of());
    assertThat(empty.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(field(empty)).isEqualTo("header");

    StatusRuntimeException twoHeaders =
        uploadFails(
            List.of(
                header(MediaKind.MEDIA_KIND_IMAGE, "", 0, 0),
                header(MediaKind.MEDIA_KIND_IMAGE, "", 0, 0)));
    assertThat(field(twoHeaders)).isEqualTo("header");

    StatusRuntimeException noKind =
        uploadFails(List.of(header(MediaKind.MEDIA_KIND_UNSPECIFIED, "", 0, 0)));
    assertThat(field(noKind)).isEqualTo("header.kind");

    StatusRuntimeException noFps =
        uploadFails(List.of(header(MediaKind.MEDIA_KIND_FRAMES, "", 0, 0)));
    assertThat(field(noFps)).isEqualTo("header.frames_fps");

    StatusRuntimeException longLabel =
        uploadFails(List.of(header(MediaKind.MEDIA_KIND_IMAGE, "x".repeat(257), 0, 0)));
    assertThat(field(longLabel)).isEqualTo("header.label");

    byte[] png = MediaTestFiles.png(8, 8, 1, 1, 1);
    StatusRuntimeException shortOfExpected =
        uploadFails(
            chunked(header(MediaKind.MEDIA_KIND_IMAGE, "", 0, png.length + 1), png, MAX_CHUNK));
    assertThat(field(shortOfExpected)).isEqualTo("header.expected_size_bytes");
    assertThat(shortOfExpected.getStatus().getDescription()).contains(Integer.toString(png.length));

    awaitNoPartialFiles();
    assertThat(filesLeft()).isEmpty();
  }

  @Test
  void theDeclaredKindMustBeWhatTheBytesAre() throws Exception {
    byte[] png = MediaTestFiles.png(20, 10, 1, 2, 3);
    StatusRuntimeException asVideo =
        uploadFails(chunked(header(MediaKind.MEDIA_KIND_VIDEO, "still", 0, 0), png, MAX_CHUNK));
    assertThat(asVideo.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(asVideo)).isEqualTo("MEDIA_INVALID");
    assertThat(RequestValidatorTest.unpack(asVideo, ErrorInfo.class).getMetadataMap())
        .containsEntry("detected_kind", "IMAGE")
        .containsEntry("media_error", "KIND_MISMATCH");
    byte[] video = video();
    MediaInfo stored =
        upload(chunked(header(MediaKind.MEDIA_KIND_VIDEO, "v", 0, 0), video, MAX_CHUNK));
    StatusRuntimeException asImage =
        uploadFails(
            chunked(header(MediaKind.MEDIA_KIND_IMAGE, "v as image", 0, 0), video, MAX_CHUNK));
    assertThat(reason(asImage)).isEqualTo("MEDIA_INVALID");
    assertThat(RequestValidatorTest.unpack(asImage, ErrorInfo.class).getMetadataMap())
        .containsEntry("detected_kind", "VIDEO");
    assertThat(store.count()).isEqualTo(1);
    assertThat(stored.getKind()).isEqualTo(MediaKind.MEDIA_KIND_VIDEO);
  }

  @Test
  void undecodableContentIsMediaInvalidAndTheServerKeepsServing() throws Exception {
    byte[] garbage = new byte[5000];
    new java.util.Random(7).nextBytes(garbage);
    byte[] video = video();
    byte[] truncated =
        java.util.Arrays.copyOf(video, video.length / 2); // the moov index is at the end: lost
    byte[] png = MediaTestFiles.png(20, 10, 1, 2, 3);
    byte[] otherSize = MediaTestFiles.png(21, 10, 1, 2, 3);
    List<List<UploadMediaRequest>> bad =
        List.of(
            chunked(header(MediaKind.MEDIA_KIND_VIDEO, "garbage", 0, 0), garbage, MAX_CHUNK),
            chunked(header(MediaKind.MEDIA_KIND_VIDEO, "truncated", 0, 0), truncated, MAX_CHUNK),
            chunked(header(MediaKind.MEDIA_KIND_IMAGE, "garbage", 0, 0), garbage, MAX_CHUNK),
            chunked(
                header(MediaKind.MEDIA_KIND_IMAGE, "truncated png", 0, 0),
                java.util.Arrays.copyOf(png, 40),
                MAX_CHUNK),
            List.of(header(MediaKind.MEDIA_KIND_VIDEO, "no bytes", 0, 0)),
            List.of(
                header(MediaKind.MEDIA_KIND_FRAMES, "sizes differ", 5, 0),
                chunk(png, 0, png.length),
                chunk(otherSize, 0, otherSize.length)),
            List.of(
                header(MediaKind.MEDIA_KIND_FRAMES, "garbage frame", 5, 0),
                chunk(png, 0, png.length),
                chunk(garbage, 0, 100)));
    for (List<UploadMediaRequest> msgs : bad) {
      String label = msgs.get(0).getHeader().getLabel();
      StatusRuntimeException e = uploadFails(msgs);
      assertThat(e).as(label).isNotNull();
      assertThat(e.getStatus().getCode()).as(label).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(reason(e)).as(label).isEqualTo("MEDIA_INVALID");
      // in our words: no server path, class name, source line or library advice
      assertThat(e.getStatus().getDescription())
          .as(label)
          .doesNotContain("/")
          .doesNotContain("Exception")
          .doesNotContain(".java:")
          .doesNotContain(".part")
          .doesNotContain("setFormat")
          .doesNotContain("FFmpegLogCallback")
          .doesNotContain("javacv");
    }
    awaitNoPartialFiles();
    assertThat(filesLeft()).isEmpty();
    assertThat(store.count()).isZero();

    MediaInfo ok = upload(chunked(header(MediaKind.MEDIA_KIND_VIDEO, "", 0, 0), video, MAX_CHUNK));
    assertThat(ok.getFrameCount()).isEqualTo(30);
  }

  @Test
  void aClientThatCancelsMidUploadLeavesNoPartialFile() throws Exception {
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    var requests =
        (io.grpc.stub.ClientCallStreamObserver<UploadMediaRequest>)
            async.uploadMedia(
                new StreamObserver<>() {
                  @Override
                  public void onNext(MediaInfo value) {
                    ended.complete(null);
                  }

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(t);
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(null);
                  }
                });
    requests.onNext(header(MediaKind.MEDIA_KIND_VIDEO, "", 0, 0));
    requests.onNext(chunk(new byte[1000], 0, 1000));
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (partialFiles().isEmpty()) {
      assertThat(System.nanoTime())
          .as("the server started writing the upload")
          .isLessThan(deadline);
      Thread.sleep(10);
    }
    requests.cancel("client gave up", null);
    Throwable t = ended.get(20, TimeUnit.SECONDS);
    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.CANCELLED);
    awaitNoPartialFiles();
    assertThat(filesLeft()).isEmpty();
    assertThat(store.count()).isZero();
  }

  @Test
  void getAndDeleteValidateIdsAnswerNotFoundAndDeleteDropsCachedFeatures() throws Exception {
    StatusRuntimeException malformed =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> blocking.getMedia(GetMediaRequest.newBuilder().setMediaId("sha256:XYZ").build()));
    assertThat(malformed.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(field(malformed)).isEqualTo("media_id");
    String unknown = "sha256:" + "ab".repeat(32);
    StatusRuntimeException notFound =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> blocking.getMedia(GetMediaRequest.newBuilder().setMediaId(unknown).build()));
    assertThat(notFound.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(reason(notFound)).isEqualTo("MEDIA_NOT_FOUND");
    StatusRuntimeException deleteUnknown =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                blocking.deleteMedia(DeleteMediaRequest.newBuilder().setMediaId(unknown).build()));
    assertThat(deleteUnknown.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(reason(deleteUnknown)).isEqualTo("MEDIA_NOT_FOUND");
    StatusRuntimeException deleteMalformed =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> blocking.deleteMedia(DeleteMediaRequest.newBuilder().setMediaId("").build()));
    assertThat(deleteMalformed.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

    byte[] png = MediaTestFiles.png(16, 16, 9, 9, 9);
    MediaInfo img = upload(chunked(header(MediaKind.MEDIA_KIND_IMAGE, "", 0, 0), png, MAX_CHUNK));
    String id = img.getMediaId();
    // features of this media land in the cache (as the pipeline would put them)
    cache
        .get(
            (id + "/") + "variant",
            k -> CompletableFuture.completedFuture(new CountingModelExecutor.Features(k, 1, 1000)))
        .get(5, TimeUnit.SECONDS);
    assertThat(
            blocking
                .getMedia(GetMediaRequest.newBuilder().setMediaId(id).build())
                .getFeaturesCached())
        .isTrue();

    long released =
        blocking
            .deleteMedia(DeleteMediaRequest.newBuilder().setMediaId(id).build())
            .getReleasedBytes();
    assertThat(released).isEqualTo(png.length + 1000);
    assertThat(cache.containsPrefix((id + "/"))).isFalse();
    assertThat(filesLeft()).isEmpty();
    StatusRuntimeException gone =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> blocking.getMedia(GetMediaRequest.newBuilder().setMediaId(id).build()));
    assertThat(gone.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
  }

  private void awaitNoPartialFiles() throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!partialFiles().isEmpty()) {
      assertThat(System.nanoTime())
          .as("partial files %s are removed", partialFiles())
          .isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}

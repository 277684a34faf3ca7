package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.InlineFrames;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.media.MediaDecoder;
import dev.llavast.models.media.MediaLimits;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.generation.GenerationJob;
import dev.llavast.server.media.DecoderProbe;
import dev.llavast.server.media.MediaErrors;
import dev.llavast.server.media.MediaPipeline;
import dev.llavast.server.media.MediaStore;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.media.MediaTestFiles;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class MediaRefResolverTest {
  @TempDir Path dir;
  private MediaStore store;
  private ExecutorService pool;
  private MediaRefResolver resolver;

  @BeforeEach
  void setUp() throws Exception {
    store = new MediaStore(Optional.of(dir), 50_000);
    pool = MediaPipeline.newDecodePool(2, 8, 0);
    resolver =
        new MediaRefResolver(
            store, new DecoderProbe(new MediaDecoder(MediaLimits.defaults())), pool);
  }

  @AfterEach
  void tearDown() throws Exception {
    pool.shutdownNow();
    store.close();
  }

  private static StoredMedia get(GenerationJob.Media m) throws Exception {
    return m.stored().get(30, TimeUnit.SECONDS);
  }

  /**
   * The error a reference fails with, at once (thrown) or later (its media's future), as gRPC sends
   * it.
   */
  private static StatusRuntimeException failure(
      java.util.function.Supplier<GenerationJob.Media> resolve) {
    GenerationJob.Media m;
    try {
      m = resolve.get();
    } catch (ApiException e) {
      return GrpcErrors.toStatus(e);
    }
    Throwable t = catchThrowable(() -> get(m));
    assertThat(t).isInstanceOf(ExecutionException.class);
    Throwable c = MediaErrors.unwrap(t);
    assertThat(c).isInstanceOf(ApiException.class);
    return GrpcErrors.toStatus(c);
  }

  private static String reason(StatusRuntimeException e) {
    return RequestValidatorTest.unpack(e, ErrorInfo.class).getReason();
  }

  private static String field(StatusRuntimeException e) {
    return RequestValidatorTest.unpack(e, BadRequest.class).getFieldViolations(0).getField();
  }

  @Test
  void inlineImageIsStoredLikeAnUploadAndThenFoundById() throws Exception {
    byte[] png = MediaTestFiles.png(12, 7, 1, 2, 3);
    StoredMedia m =
        get(
            resolver.resolve(
                MediaRef.newBuilder().setImageBytes(ByteString.copyFrom(png)).build(), "media"));
    assertThat(m.mediaId())
        .isEqualTo(
            "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(png)));
    assertThat(m.kind()).isEqualTo(DecodedMedia.Kind.IMAGE);
    assertThat(m.meta().widthPx()).isEqualTo(12);
    assertThat(m.meta().heightPx()).isEqualTo(7);
    assertThat(Files.readAllBytes(m.file())).isEqualTo(png);

    StoredMedia byId =
        get(resolver.resolve(MediaRef.newBuilder().setMediaId(m.mediaId()).build(), "media"));
    assertThat(byId).isEqualTo(m);
    StoredMedia again =
        get(
            resolver.resolve(
                MediaRef.newBuilder().setImageBytes(ByteString.copyFrom(png)).build(), "media"));
    assertThat(again.alreadyPresent()).isTrue();
    assertThat(store.count()).isEqualTo(1);
  }

  @Test
  void inlineFramesAndVideo() throws Exception {
    InlineFrames frames =
        InlineFrames.newBuilder()
            .setFps(4)
            .addImages(ByteString.copyFrom(MediaTestFiles.png(10, 10, 0, 0, 0)))
            .addImages(ByteString.copyFrom(MediaTestFiles.png(10, 10, 9, 9, 9)))
            .build();
    StoredMedia f = get(resolver.resolve(MediaRef.newBuilder().setFrames(frames).build(), "media"));
    assertThat(f.kind()).isEqualTo(DecodedMedia.Kind.FRAMES);
    assertThat(f.meta().frameCount()).isEqualTo(2);
    assertThat(f.meta().durationSeconds()).isEqualTo(0.5);

    byte[] video =
        Files.readAllBytes(MediaTestFiles.movingSquare(dir.resolve("v.mp4.src"), 32, 32, 10, 5));
    StoredMedia v =
        get(
            resolver.resolve(
                MediaRef.newBuilder().setVideoBytes(ByteString.copyFrom(video)).build(), "media"));
    assertThat(v.meta().frameCount()).isEqualTo(10);
    assertThat(v.meta().fps()).isEqualTo(5.0);
  }

  @Test
  void badReferencesFailWithTheirStatus() throws Exception {
    StatusRuntimeException none =
        failure(() -> resolver.resolve(MediaRef.getDefaultInstance(), "media"));
    assertThat(none.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(field(none)).isEqualTo("media");

    StatusRuntimeException malformed =
        failure(() -> resolver.resolve(MediaRef.newBuilder().setMediaId("abc").build(), "media"));
    assertThat(field(malformed)).isEqualTo("media.media_id");

    StatusRuntimeException unknown =
        failure(
            () ->
                resolver.resolve(
                    MediaRef.newBuilder().setMediaId("sha256:" + "0".repeat(64)).build(), "media"));
    assertThat(unknown.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(reason(unknown)).isEqualTo("MEDIA_NOT_FOUND");

    StatusRuntimeException garbage =
        failure(
            () ->
                resolver.resolve(
                    MediaRef.newBuilder()
                        .setVideoBytes(ByteString.copyFrom(new byte[] {0, 1, 2, 3, 4, 5, 6, 7}))
                        .build(),
                    "media"));
    assertThat(garbage.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(garbage)).isEqualTo("MEDIA_INVALID");

    StatusRuntimeException empty =
        failure(
            () ->
                resolver.resolve(
                    MediaRef.newBuilder().setImageBytes(ByteString.EMPTY).build(), "media"));
    assertThat(reason(empty)).isEqualTo("MEDIA_INVALID");

    StatusRuntimeException big =
        failure(
            () ->
                resolver.resolve(
                    MediaRef.newBuilder()
                        .setVideoBytes(ByteString.copyFrom(new byte[50_001]))
                        .build(),
                    "media"));
    assertThat(big.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(big)).isEqualTo("MEDIA_TOO_LARGE");

    ByteString tiny = ByteString.copyFrom(MediaTestFiles.png(4, 4, 0, 0, 0));
    StatusRuntimeException noFps =
        failure(
            () ->
                resolver.resolve(
                    MediaRef.newBuilder()
                        .setFrames(InlineFrames.newBuilder().addImages(tiny))
                        .build(),
                    "media"));
    assertThat(field(noFps)).isEqualTo("media.frames.fps");

    StatusRuntimeException noImages =
        failure(
            () ->
                resolver.resolve(
                    MediaRef.newBuilder().setFrames(InlineFrames.newBuilder().setFps(5)).build(),
                    "media"));
    assertThat(field(noImages)).isEqualTo("media.frames.images");

    try (var files = Files.list(dir)) {
      assertThat(files.filter(p -> p.getFileName().toString().endsWith(".part")).count())
          .as("partial files")
          .isZero();
    }
    assertThat(store.count()).isZero();
  }
}

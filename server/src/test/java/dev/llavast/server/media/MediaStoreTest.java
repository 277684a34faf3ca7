package dev.llavast.server.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.llavast.models.media.DecodedMedia;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.media.MediaStore.MediaMetadata;
import dev.llavast.server.tenancy.Tenant;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MediaStoreTest {
  private static final MediaMetadata META = new MediaMetadata(3.0, 30, 10.0, 64, 48);
  @TempDir Path dir;

  @Test
  void idIsTheSha256OfTheBytesAndDuplicatesAreStoredOnce() throws Exception {
    AtomicInteger probes = new AtomicInteger();
    MediaStore.MediaProbe probe =
        (kind, file, fps) -> {
          probes.incrementAndGet();
          return META;
        };
    byte[] content = "not really a video, but bytes".getBytes(StandardCharsets.UTF_8);
    String expected =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    try (MediaStore store = new MediaStore(Optional.of(dir), 1 << 20)) {
      MediaStore.Upload up = store.begin(Tenant.OPEN, DecodedMedia.Kind.VIDEO, "clip.mp4", 0);
      up.append(ByteBuffer.wrap(content, 0, 10));
      up.append(ByteBuffer.wrap(content, 10, content.length - 10));
      MediaStore.StoredMedia first = up.finish(probe);
      assertThat(first.mediaId()).isEqualTo(expected);
      assertThat(first.alreadyPresent()).isFalse();
      assertThat(Files.readAllBytes(first.file())).isEqualTo(content);

      MediaStore.StoredMedia again =
          store.putInline(
              Tenant.OPEN, DecodedMedia.Kind.VIDEO, List.of(ByteBuffer.wrap(content)), 0, probe);
      assertThat(again.mediaId()).isEqualTo(expected);
      assertThat(again.alreadyPresent()).isTrue();
      assertThat(probes).hasValue(1);
      assertThat(store.count()).isEqualTo(1);
      assertThat(store.storedBytes()).isEqualTo(content.length);
      try (var files = Files.list(dir)) {
        assertThat(files.count()).as("no partial files left").isEqualTo(1);
      }

      assertThat(store.delete(Tenant.OPEN, expected)).contains((long) content.length);
      assertThat(store.get(Tenant.OPEN, expected)).isEmpty();
      assertThat(store.delete(Tenant.OPEN, expected)).isEmpty();
      assertThat(store.storedBytes()).isZero();
    }
  }

  @Test
  void refusesOversizedUploadAsItArrivesAndLeavesNothingBehind() throws Exception {
    try (MediaStore store = new MediaStore(Optional.of(dir), 100)) {
      MediaStore.Upload up = store.begin(Tenant.OPEN, DecodedMedia.Kind.VIDEO, "", 0);
      up.append(ByteBuffer.wrap(new byte[60]));
      ApiException e =
          catchThrowableOfType(ApiException.class, () -> up.append(ByteBuffer.wrap(new byte[60])));
      assertThat(e.kind()).isEqualTo(Reason.Kind.RESOURCE_EXHAUSTED);
      assertThat(e.reason()).isEqualTo(Reason.MEDIA_TOO_LARGE);
      try (var files = Files.list(dir)) {
        assertThat(files.count()).isZero();
      }
    }
  }

  @Test
  void emptyOrUnprobeableUploadIsInvalidAndLeavesNothingBehind() throws Exception {
    try (MediaStore store = new MediaStore(Optional.of(dir), 100)) {
      ApiException empty =
          catchThrowableOfType(
              ApiException.class,
              () ->
                  store
                      .begin(Tenant.OPEN, DecodedMedia.Kind.IMAGE, "", 0)
                      .finish((k, f, fps) -> META));
      assertThat(empty.reason()).isEqualTo(Reason.MEDIA_INVALID);

      MediaStore.Upload up = store.begin(Tenant.OPEN, DecodedMedia.Kind.IMAGE, "", 0);
      up.append(ByteBuffer.wrap("garbage".getBytes(StandardCharsets.UTF_8)));
      ApiException bad =
          catchThrowableOfType(
              ApiException.class,
              () ->
                  up.finish(
                      (k, f, fps) -> {
                        throw ApiException.of(Reason.MEDIA_INVALID, "not an image");
                      }));
      assertThat(bad.getMessage()).isEqualTo("not an image");
      try (var files = Files.list(dir)) {
        assertThat(files.count()).isZero();
      }
      assertThat(store.count()).isZero();
    }
  }

  @Test
  void framesAreLengthPrefixedAndTheFpsIsPartOfTheId() throws Exception {
    try (MediaStore store = new MediaStore(Optional.empty(), 1 << 20)) {
      List<ByteBuffer> frames =
          List.of(
              ByteBuffer.wrap("frame-one".getBytes(StandardCharsets.UTF_8)),
              ByteBuffer.wrap("frame-2".getBytes(StandardCharsets.UTF_8)));
      MediaStore.StoredMedia at10 =
          store.putInline(Tenant.OPEN, DecodedMedia.Kind.FRAMES, frames, 10, (k, f, fps) -> META);
      MediaStore.StoredMedia at25 =
          store.putInline(Tenant.OPEN, DecodedMedia.Kind.FRAMES, frames, 25, (k, f, fps) -> META);
      assertThat(at10.mediaId()).isNotEqualTo(at25.mediaId());
      assertThat(MediaStore.readFrames(at10.file()))
          .extracting(b -> new String(b, StandardCharsets.UTF_8))
          .containsExactly("frame-one", "frame-2");
      assertThat(at10.sizeBytes()).isEqualTo(9 + 7 + 8);
    }
  }
}

package dev.llavast.models.media;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MediaKeysTest {
  static final MediaKeys.Params VIDEO =
      new MediaKeys.Params(DecodedMedia.Kind.VIDEO, 100, 384, null, "stp-1");

  @Test
  void keyIsSha256OfContentAndParameters() {
    // python3: hashlib.sha256(b'abc' + b'\x00' +
    //   b'llavast-media-1|kind=VIDEO|frames=100|size=384|clip=all|packer=stp-1').hexdigest()
    assertThat(MediaKeys.of("abc".getBytes(StandardCharsets.US_ASCII), VIDEO))
        .isEqualTo("098d95a91633911755d6dbb568c2e81712373bd0414c4bbc0276295a970b2101");
    MediaKeys.Params clipped =
        new MediaKeys.Params(
            DecodedMedia.Kind.VIDEO, 100, 384, ClipRange.seconds(1.5, 3.0), "stp-1");
    assertThat(MediaKeys.of("abc".getBytes(StandardCharsets.US_ASCII), clipped))
        .isEqualTo("ecebb983f57718f9350d0f70afbf3b1ed0cef7f98c6babef098e09c2362d8dae");
  }

  @Test
  void fileAndBytesAgreeAndEveryParameterMatters(@TempDir Path dir) throws Exception {
    byte[] content = new byte[200_000];
    for (int i = 0; i < content.length; i++) {
      content[i] = (byte) (i * 31);
    }
    Path f = Files.write(dir.resolve("x.bin"), content);
    String key = MediaKeys.of(content, VIDEO);
    assertThat(MediaKeys.of(f, VIDEO)).isEqualTo(key);
    assertThat(key).hasSize(64);
    List<MediaKeys.Params> others =
        List.of(
            new MediaKeys.Params(DecodedMedia.Kind.IMAGE, 100, 384, null, "stp-1"),
            new MediaKeys.Params(DecodedMedia.Kind.VIDEO, 99, 384, null, "stp-1"),
            new MediaKeys.Params(DecodedMedia.Kind.VIDEO, 100, 336, null, "stp-1"),
            new MediaKeys.Params(
                DecodedMedia.Kind.VIDEO, 100, 384, ClipRange.frames(0, 10), "stp-1"),
            new MediaKeys.Params(DecodedMedia.Kind.VIDEO, 100, 384, null, "stp-2"));
    for (MediaKeys.Params p : others) {
      assertThat(MediaKeys.of(content, p)).as(p.toString()).isNotEqualTo(key);
    }
    content[123] ^= 1;
    assertThat(MediaKeys.of(content, VIDEO)).isNotEqualTo(key);
  }

  @Test
  void framesKeyDependsOnPixelsAndFps() {
    RgbImage a = RgbImage.solid(2, 2, 1, 2, 3);
    RgbImage b = RgbImage.solid(2, 2, 1, 2, 4);
    MediaKeys.Params p = new MediaKeys.Params(DecodedMedia.Kind.FRAMES, 2, 384, null, "stp-1");
    String k = MediaKeys.ofFrames(List.of(a, b), 10, p);
    assertThat(MediaKeys.ofFrames(List.of(a, b), 10, p)).isEqualTo(k);
    assertThat(MediaKeys.ofFrames(List.of(b, a), 10, p)).isNotEqualTo(k);
    assertThat(MediaKeys.ofFrames(List.of(a, b), 12, p)).isNotEqualTo(k);
  }
}

package dev.llavast.models.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.llavast.models.CheckpointException;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.TinyCheckpoints;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
  @TempDir static Path dir;
  static ModelConfig config;
  static Tokenizer tok;

  @BeforeAll
  static void setUp() throws Exception {
    config = TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, 7L);
    tok = Tokenizer.load(dir, config);
  }

  @AfterAll
  static void tearDown() {
    tok.close();
  }

  @Test
  void specialIdsFollowTheReleaseOrderAndTheBinInvariants() {
    SpecialTokens sp = tok.specialTokens();
    int v = config.vocabSize();
    // tiny layout: BPE ids, then <|endoftext|> <|im_start|> <|im_end|>, then the 14 markers up to
    // V-1
    assertThat(sp.endOfText()).isEqualTo(v - 17);
    assertThat(sp.imStart()).isEqualTo(v - 16);
    assertThat(sp.imEnd()).isEqualTo(v - 15);
    assertThat(sp.imageStart()).isEqualTo(v - 14);
    assertThat(sp.widthOutput()).isEqualTo(v - 1);
    assertThat(sp.firstTempBin()).isEqualTo(v);
    assertThat(sp.firstHeightBin()).isEqualTo(v + 100);
    assertThat(sp.firstWidthBin()).isEqualTo(v + 200);
    assertThat(tok.tokenId("<WIDTH-099>")).hasValue(v + 299);
    assertThat(tok.size()).isEqualTo(v + 300);
    assertThat(sp.extendedVocabSize()).isEqualTo(config.extendedVocabSize());
  }

  @Test
  void shiftedTokenizerFailsWithEveryBrokenInvariantNamed() throws Exception {
    // the "+1" trap of spec §7.1: a base tokenizer that already had <image> shifts every LLaVA-ST
    // id by one
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(dir.resolve("tokenizer.json").toFile());
    int firstMarker = config.vocabSize() - 14;
    for (JsonNode t : root.get("added_tokens")) {
      int id = t.get("id").asInt();
      if (id >= firstMarker) {
        ((ObjectNode) t).put("id", id + 1);
      }
    }
    Path broken = Files.createTempDirectory(dir, "broken").resolve("tokenizer.json");
    json.writeValue(broken.toFile(), root);
    int v = config.vocabSize();
    assertThatThrownBy(() -> Tokenizer.load(broken, v, 100))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("<WIDTH-OUTPUT> has id " + v + ", expected an id below V = " + v)
        .hasMessageContaining("<TEMP-000> has id " + (v + 1) + ", expected " + v + " (V,")
        .hasMessageContaining("<HEIGHT-000> has id " + (v + 101) + ", expected " + (v + 100))
        .hasMessageContaining("<WIDTH-000> has id " + (v + 201) + ", expected " + (v + 200))
        .satisfies(e -> assertThat(((CheckpointException) e).problems()).hasSize(4));
  }

  @Test
  void missingTokenIsNamed() throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(dir.resolve("tokenizer.json").toFile());
    com.fasterxml.jackson.databind.node.ArrayNode added =
        (com.fasterxml.jackson.databind.node.ArrayNode) root.get("added_tokens");
    for (int i = added.size() - 1; i >= 0; i--) {
      if (added.get(i).get("content").asText().equals("<slow_vid_end>")) {
        added.remove(i);
      }
    }
    Path broken = Files.createTempDirectory(dir, "missing").resolve("tokenizer.json");
    json.writeValue(broken.toFile(), root);
    assertThatThrownBy(() -> Tokenizer.load(broken, config.vocabSize(), 100))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("missing token <slow_vid_end>");
  }

  @Test
  void encodeUsesMergesAndSpecialsAndDecodesBack() {
    int[] ids = tok.encode("You are a helpful assistant.");
    // the merges apply: fewer ids than the 28 bytes, and the first word is the single merged token
    // "You"
    assertThat(ids.length).isLessThan(28);
    assertThat(tok.tokenId("You")).hasValue(ids[0]);
    assertThat(tok.decode(ids)).isEqualTo("You are a helpful assistant.");
    String text = "Ends in <TEMP-012>, héllo 日本 😀 [<WIDTH-010><HEIGHT-020>]<|im_end|>";
    int[] enc = tok.encode(text);
    SpecialTokens sp = tok.specialTokens();
    assertThat(enc)
        .contains(
            sp.firstTempBin() + 12, sp.firstWidthBin() + 10, sp.firstHeightBin() + 20, sp.imEnd());
    assertThat(tok.decode(enc)).isEqualTo(text);
    // our byte-table decode agrees with DJL's own decode
    assertThat(tok.decode(enc))
        .isEqualTo(tok.decodeRaw(IntStream.of(enc).boxed().collect(Collectors.toList())));
  }

  @Test
  void decodeRejectsUnknownIds() {
    assertThatThrownBy(() -> tok.decode(new int[] {tok.size()}))
        .hasMessageContaining("token id " + tok.size() + " is not in the tokenizer");
  }

  @Test
  void streamingDecodeNeverSplitsAMultiByteCharacter() {
    String text = "a é 日本 😀x <TEMP-003>ü";
    int[] ids = tok.encode(text);
    StreamDecoder dec = tok.newStreamDecoder();
    StringBuilder all = new StringBuilder();
    int emptyPushes = 0;
    for (int id : ids) {
      String piece = dec.push(id);
      assertThat(piece).doesNotContain("\uFFFD");
      // every emitted piece is whole characters: re-encoding to UTF-8 gives back valid, complete
      // text
      assertThat(new String(piece.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
          .isEqualTo(piece);
      if (piece.isEmpty()) {
        emptyPushes++;
      }
      all.append(piece);
    }
    all.append(dec.finish());
    assertThat(all.toString()).isEqualTo(text);
    // the tiny vocabulary has no multi-byte merges: é (2 bytes), 日/本 (3 each), 😀 (4), ü (2) arrive
    // byte by byte
    assertThat(emptyPushes).isEqualTo(1 + 2 + 2 + 3 + 1);
  }

  @Test
  void windowedFallbackForNonByteLevelDecodersAlsoNeverSplitsCharacters() throws Exception {
    // same vocabulary, decoder wrapped in a Sequence: the byte table is not used, DJL's decode is
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(dir.resolve("tokenizer.json").toFile());
    ObjectNode seq = json.createObjectNode().put("type", "Sequence");
    seq.putArray("decoders").add(root.get("decoder"));
    root.set("decoder", seq);
    Path wrapped = Files.createTempDirectory(dir, "seq").resolve("tokenizer.json");
    json.writeValue(wrapped.toFile(), root);
    try (Tokenizer t = Tokenizer.load(wrapped, config.vocabSize(), 100)) {
      String text = "x 日本 😀 <TEMP-099> é";
      int[] ids = t.encode(text);
      assertThat(t.tokenBytes(ids[0])).isNull(); // fallback path
      assertThat(t.decode(ids)).isEqualTo(text);
      StreamDecoder dec = t.newStreamDecoder();
      StringBuilder all = new StringBuilder();
      for (int id : ids) {
        String piece = dec.push(id);
        assertThat(piece).doesNotContain("\uFFFD");
        all.append(piece);
      }
      all.append(dec.finish());
      assertThat(all.toString()).isEqualTo(text);
    }
  }

  @Test
  void streamingFinishFlushesAnIncompleteCharacterAsReplacement() {
    int[] ids = tok.encode("😀");
    StreamDecoder dec = tok.newStreamDecoder();
    assertThat(dec.push(ids[0])).isEmpty();
    assertThat(dec.push(ids[1])).isEmpty();
    assertThat(dec.finish()).isEqualTo("\uFFFD");
  }

  @Test
  void completePrefixHoldsBackOnlyTheUnfinishedCharacter() {
    byte[] euro = "€".getBytes(StandardCharsets.UTF_8); // E2 82 AC
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write('a');
    b.write(euro, 0, 2);
    assertThat(StreamDecoder.completePrefix(b.toByteArray())).isEqualTo(1);
    b.write(euro, 2, 1);
    assertThat(StreamDecoder.completePrefix(b.toByteArray())).isEqualTo(4);
    assertThat(StreamDecoder.completePrefix(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98}))
        .isZero();
    assertThat(StreamDecoder.completePrefix(new byte[] {'x', 'y'})).isEqualTo(2);
    assertThat(List.of()).isEmpty();
  }
}

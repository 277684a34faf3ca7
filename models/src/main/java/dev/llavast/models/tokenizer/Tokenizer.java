package dev.llavast.models.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.llavast.models.CheckpointException;
import dev.llavast.models.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.jspecify.annotations.Nullable;

/**
 * The checkpoint's {@code tokenizer.json}, through DJL's HuggingFace tokenizer (no truncation, no
 * padding, no added special tokens), with every LLaVA-ST special id looked up by its string and the
 * spec §7.1 invariants checked at load: {@code <TEMP-000>} == V, {@code <HEIGHT-000>} == V + bins,
 * {@code <WIDTH-000>} == V + 2 * bins, every bin contiguous, the 14 markers below V.
 *
 * <p>Thread-safe: {@link #encode} and {@link #decode} may be called from any thread. Owns a native
 * handle: {@link #close} once, after every user is done.
 */
public final class Tokenizer implements AutoCloseable {
  /** The tokenizer file name inside a checkpoint directory. */
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer hf;
  private final Map<String, Integer> tokenIds;
  private final byte @Nullable [][] tokenBytes; // null unless the decoder is ByteLevel
  private final int idLimit;
  private final SpecialTokens special;

  private Tokenizer(
      HuggingFaceTokenizer hf,
      Map<String, Integer> tokenIds,
      byte @Nullable [][] tokenBytes,
      int idLimit,
      SpecialTokens special) {
    this.hf = hf;
    this.tokenIds = tokenIds;
    this.tokenBytes = tokenBytes;
    this.idLimit = idLimit;
    this.special = special;
  }

  /** Loads {@code tokenizer.json} from checkpoint directory {@code dir} for {@code config}. */
  public static Tokenizer load(Path dir, ModelConfig config) throws IOException {
    return load(dir.resolve(TOKENIZER_FILE), config.vocabSize(), config.numCoordinateBins());
  }

  /**
   * Loads {@code tokenizerJson} and checks it against {@code vocabSize} (V) and {@code bins}.
   *
   * @throws CheckpointException listing every missing special token and every broken invariant
   */
  public static Tokenizer load(Path tokenizerJson, int vocabSize, int bins) throws IOException {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IOException("tokenizer file " + tokenizerJson + " does not exist");
    }
    JsonNode root = JSON.readTree(tokenizerJson.toFile());
    if (root == null || !root.isObject()) {
      throw new IOException(tokenizerJson + ": not a JSON object");
    }
    Map<String, Integer> ids = new HashMap<>();
    Map<Integer, String> vocabById = new HashMap<>();
    Map<Integer, String> addedById = new HashMap<>();
    JsonNode vocab = root.path("model").path("vocab");
    if (vocab.isObject()) {
      for (Map.Entry<String, JsonNode> e : vocab.properties()) {
        ids.put(e.getKey(), e.getValue().asInt());
        vocabById.put(e.getValue().asInt(), e.getKey());
      }
    }
    for (JsonNode t : root.path("added_tokens")) {
      String content = t.path("content").asText();
      int id = t.path("id").asInt(-1);
      ids.put(content, id);
      addedById.put(id, content);
    }
    int limit = 0;
    for (int id : ids.values()) {
      limit = Math.max(limit, id + 1);
    }
    byte @Nullable [][] bytes = null;
    if ("ByteLevel".equals(root.path("decoder").path("type").asText())) {
      bytes = new byte[limit][];
      Map<Character, Integer> unicodeToByte = unicodeToByte();
      for (Map.Entry<Integer, String> e : vocabById.entrySet()) {
        String tok = e.getValue();
        byte[] b = new byte[tok.length()];
        boolean ok = true;
        for (int i = 0; i < tok.length(); i++) {
          Integer v = unicodeToByte.get(tok.charAt(i));
          if (v == null) {
            ok = false;
            break;
          }
          b[i] = (byte) (int) v;
        }
        bytes[e.getKey()] = ok ? b : tok.getBytes(StandardCharsets.UTF_8);
      }
      for (Map.Entry<Integer, String> e : addedById.entrySet()) {
        bytes[e.getKey()] = e.getValue().getBytes(StandardCharsets.UTF_8);
      }
    }
    SpecialTokens special = resolve(tokenizerJson, ids, vocabSize, bins);
    HuggingFaceTokenizer hf =
        HuggingFaceTokenizer.builder()
            .optTokenizerPath(tokenizerJson)
            .optAddSpecialTokens(false)
            .optTruncation(false)
            .optPadding(false)
            .optWithOverflowingTokens(false)
            .build();
    Tokenizer tok = new Tokenizer(hf, Map.copyOf(ids), bytes, limit, special);
    try {
      tok.checkSplitsSpecials(tokenizerJson);
    } catch (RuntimeException e) {
      tok.close();
      throw e;
    }
    return tok;
  }

  private static SpecialTokens resolve(Path file, Map<String, Integer> ids, int v, int bins) {
    List<String> problems = new ArrayList<>();
    int[] chat = new int[3];
    String[] chatNames = {SpecialTokens.END_OF_TEXT, SpecialTokens.IM_START, SpecialTokens.IM_END};
    for (int i = 0; i < 3; i++) {
      chat[i] = lookup(ids, chatNames[i], problems);
    }
    int[] markers = new int[SpecialTokens.MARKERS.size()];
    for (int i = 0; i < markers.length; i++) {
      String name = SpecialTokens.MARKERS.get(i);
      markers[i] = lookup(ids, name, problems);
      if (markers[i] >= v) {
        problems.add(
            name
                + " has id "
                + markers[i]
                + ", expected an id below V = "
                + v
                + " (markers live in embed_tokens)");
      }
    }
    String[] axes = {"TEMP", "HEIGHT", "WIDTH"};
    for (int a = 0; a < 3; a++) {
      int firstMismatch = -1;
      for (int k = 0; k < bins; k++) {
        String name = SpecialTokens.binToken(axes[a], k);
        Integer id = ids.get(name);
        int expected = v + a * bins + k;
        if (id == null) {
          problems.add("missing token " + name + " (expected id " + expected + ")");
        } else if (id != expected && firstMismatch < 0) {
          firstMismatch = k;
          String what = k == 0 ? (a == 0 ? "V" : "V+" + (a * bins)) : "V+" + (a * bins + k);
          problems.add(
              name
                  + " has id "
                  + id
                  + ", expected "
                  + expected
                  + " ("
                  + what
                  + ", V = vocab_size = "
                  + v
                  + ")");
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new CheckpointException(
          "tokenizer " + file + " does not fit vocab_size " + v + " and " + bins + " bins",
          problems);
    }
    return new SpecialTokens(
        v,
        bins,
        chat[0],
        chat[1],
        chat[2],
        markers[0],
        markers[1],
        markers[2],
        markers[3],
        markers[4],
        markers[5],
        markers[6],
        markers[7],
        markers[8],
        markers[9],
        markers[10],
        markers[11],
        markers[12],
        markers[13],
        v,
        v + bins,
        v + 2 * bins);
  }

  private static int lookup(Map<String, Integer> ids, String name, List<String> problems) {
    Integer id = ids.get(name);
    if (id == null) {
      problems.add("missing token " + name);
      return -1;
    }
    return id;
  }

  /**
   * DJL must treat every special string as one added token, or prompts would tokenize differently.
   */
  private void checkSplitsSpecials(Path file) {
    List<String> names =
        new ArrayList<>(
            List.of(SpecialTokens.END_OF_TEXT, SpecialTokens.IM_START, SpecialTokens.IM_END));
    names.addAll(SpecialTokens.MARKERS);
    for (String axis : new String[] {"TEMP", "HEIGHT", "WIDTH"}) {
      names.add(SpecialTokens.binToken(axis, 0));
      names.add(SpecialTokens.binToken(axis, special.bins() - 1));
    }
    int[] got = encode(String.join("", names));
    int[] want = names.stream().mapToInt(tokenIds::get).toArray();
    if (!Arrays.equals(got, want)) {
      throw new CheckpointException(
          "tokenizer " + file + " does not split special tokens",
          List.of(
              "encoding the special tokens gave "
                  + Arrays.toString(got)
                  + ", expected "
                  + Arrays.toString(want)
                  + " (are they listed in added_tokens?)"));
    }
  }

  /** The special ids. */
  public SpecialTokens specialTokens() {
    return special;
  }

  /** Id of a token string (vocabulary or added token), if present. */
  public OptionalInt tokenId(String token) {
    Integer id = tokenIds.get(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /** Number of ids the tokenizer knows (max id + 1); {@code V + 3 * bins} for LLaVA-ST. */
  public int size() {
    return idLimit;
  }

  /** Encodes {@code text}; added tokens in the text (e.g. {@code <TEMP-012>}) become their ids. */
  public int[] encode(String text) {
    long[] ids = hf.encode(text, false, false).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** Decodes {@code ids} with special tokens kept literally (no skipping, no clean-up). */
  public String decode(int[] ids) {
    for (int id : ids) {
      checkId(id);
    }
    if (tokenBytes != null) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      for (int id : ids) {
        out.write(tokenBytes[id], 0, tokenBytes[id].length);
      }
      return out.toString(StandardCharsets.UTF_8);
    }
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return hf.decode(l, false);
  }

  /**
   * The text of one token on its own (special tokens literally); a token that holds part of a
   * multi-byte character decodes with a replacement character. For classifying the vocabulary.
   */
  public String tokenText(int id) {
    return decode(new int[] {id});
  }

  /**
   * DJL's own decode of {@code ids} (special tokens kept); for the fallback stream path and checks.
   */
  String decodeRaw(List<Integer> ids) {
    long[] l = new long[ids.size()];
    for (int i = 0; i < l.length; i++) {
      l[i] = checkId(ids.get(i));
    }
    return hf.decode(l, false);
  }

  /** A new incremental decoder for one sequence. */
  public StreamDecoder newStreamDecoder() {
    return new StreamDecoder(this);
  }

  /**
   * The raw bytes of one token for a ByteLevel tokenizer, or null if the tokenizer is not
   * byte-level.
   */
  byte @Nullable [] tokenBytes(int id) {
    checkId(id);
    return tokenBytes == null ? null : tokenBytes[id];
  }

  private int checkId(int id) {
    if (id < 0 || id >= idLimit || (tokenBytes != null && tokenBytes[id] == null)) {
      throw new IllegalArgumentException(
          "token id " + id + " is not in the tokenizer (ids 0.." + (idLimit - 1) + ")");
    }
    return id;
  }

  @Override
  public void close() {
    hf.close();
  }

  /**
   * GPT-2's byte-to-unicode table (used by byte-level BPE vocabularies such as Qwen2's), inverted:
   * printable bytes map to themselves, the others to U+0100 onwards. Returns a new map.
   */
  public static Map<Character, Integer> unicodeToByte() {
    Map<Character, Integer> map = new HashMap<>();
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      if (printable) {
        map.put((char) b, b);
      } else {
        map.put((char) (256 + n), b);
        n++;
      }
    }
    return map;
  }
}

package dev.llavast.models.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Incremental detokenizer for one generated sequence: {@link #push} returns only text whose bytes
 * form complete UTF-8 characters, so a character that byte-level BPE split across tokens is never
 * emitted in halves. The concatenation of every {@code push} plus {@link #finish} equals {@link
 * Tokenizer#decode} of all ids. Special tokens appear literally (e.g. {@code <TEMP-012>}).
 *
 * <p>Not thread-safe: one instance per sequence, used by one thread at a time.
 */
public final class StreamDecoder {
  private final Tokenizer tokenizer;
  // byte path (ByteLevel tokenizers)
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
  // fallback path: windowed decode of the ids
  private final List<Integer> ids = new ArrayList<>();
  private int prefixOffset;
  private int readOffset;

  StreamDecoder(Tokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Adds one generated id; returns the newly completed text (possibly empty). */
  public String push(int id) {
    byte[] bytes = tokenizer.tokenBytes(id);
    if (bytes != null) {
      pending.write(bytes, 0, bytes.length);
      byte[] all = pending.toByteArray();
      int cut = completePrefix(all);
      if (cut == 0) {
        return "";
      }
      pending.reset();
      pending.write(all, cut, all.length - cut);
      return new String(all, 0, cut, StandardCharsets.UTF_8);
    }
    return pushWindowed(id);
  }

  /** Flushes what is left (an incomplete character becomes U+FFFD, as in a full decode). */
  public String finish() {
    if (pending.size() > 0) {
      String s = new String(pending.toByteArray(), StandardCharsets.UTF_8);
      pending.reset();
      return s;
    }
    if (readOffset < ids.size()) {
      String prefix = tokenizer.decodeRaw(ids.subList(prefixOffset, readOffset));
      String full = tokenizer.decodeRaw(ids.subList(prefixOffset, ids.size()));
      readOffset = ids.size();
      prefixOffset = readOffset;
      return full.length() > prefix.length() ? full.substring(prefix.length()) : "";
    }
    return "";
  }

  private String pushWindowed(int id) {
    ids.add(id);
    String prefix = tokenizer.decodeRaw(ids.subList(prefixOffset, readOffset));
    String full = tokenizer.decodeRaw(ids.subList(prefixOffset, ids.size()));
    if (full.length() > prefix.length() && !full.endsWith("\uFFFD")) {
      prefixOffset = readOffset;
      readOffset = ids.size();
      return full.substring(prefix.length());
    }
    return "";
  }

  /**
   * Length of the longest prefix of {@code b} that does not end inside a UTF-8 character: trailing
   * bytes that begin a multi-byte character whose continuation bytes have not arrived are held
   * back.
   */
  static int completePrefix(byte[] b) {
    int n = b.length;
    for (int i = n - 1; i >= Math.max(0, n - 4); i--) {
      int x = b[i] & 0xFF;
      if ((x & 0xC0) == 0x80) {
        continue; // continuation byte: keep looking for the lead byte
      }
      int need;
      if (x < 0x80) {
        need = 1;
      } else if ((x & 0xE0) == 0xC0) {
        need = 2;
      } else if ((x & 0xF0) == 0xE0) {
        need = 3;
      } else if ((x & 0xF8) == 0xF0) {
        need = 4;
      } else {
        need = 1; // invalid lead byte: it will decode to U+FFFD anyway
      }
      return n - i < need ? i : n;
    }
    return n; // only continuation bytes in the last 4: invalid, emit (replacement chars)
  }
}

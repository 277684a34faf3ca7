package dev.llavast.models.tokenizer;

import dev.llavast.models.ModelConfig;
import dev.llavast.scheduler.PromptInput;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Renders LLaVA-ST's ChatML prompt (spec §6.1) into token ids with the media placeholder block
 * (§6.2), exactly as the reference's {@code preprocess_qwen} tokenizes it:
 *
 * <pre>
 * &lt;|im_start|&gt;system\n{system}&lt;|im_end|&gt;\n
 * (&lt;|im_start|&gt;user\n{user}&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n{answer}&lt;|im_end|&gt;\n)*   earlier turns
 * &lt;|im_start|&gt;user\n{question}&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n
 * </pre>
 *
 * The media block goes at the front of the first user message, followed by {@code \n}: image =
 * {@code <im_start>} + 727 x {@code <im_patch>} + {@code <im_end>} (729 ids, all overwritten by
 * features); video = {@code <vid_start>} + 898 x {@code <vid_patch>} + {@code <vid_end>} (900 ids,
 * kept as plain embeddings) then {@code <slow_vid_start>} + 1618 x {@code <vid_patch>} + {@code
 * <slow_vid_end>} (1620 ids, overwritten by the slow STP features).
 *
 * <p>Coordinates in user text: the demo shorthand {@code <t0.41>}, {@code <h0.05>}, {@code <w0.30>}
 * and the long forms {@code <TEMP-INPUT0.41>}, {@code <HEIGHT-OUTPUT0.5>} etc. become the
 * value-slot token with value {@code clip(round(v, 3), 0, 1)} (Python's round: half-even on the
 * exact binary value). Bin tokens such as {@code <TEMP-012>} (earlier answers fed back) stay
 * themselves. ChatML control tokens, media markers and bare value slots written literally are
 * rejected.
 *
 * <p>Thread-safe (immutable).
 */
public final class ChatTemplate {
  /** The release's system prompt. */
  public static final String DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant.";

  /** What a prompt carries. */
  public enum Media {
    NONE,
    IMAGE,
    VIDEO
  }

  /**
   * One earlier exchange of a session: the user's text and the assistant's answer, either as text
   * or as the ids it generated (without the stop token).
   */
  public record Turn(String user, @Nullable String assistantText, int @Nullable [] assistantIds) {
    public Turn {
      Objects.requireNonNull(user, "user");
      if ((assistantText == null) == (assistantIds == null)) {
        throw new IllegalArgumentException(
            "a turn needs exactly one of assistantText and assistantIds");
      }
      assistantIds = assistantIds == null ? null : assistantIds.clone();
    }

    public static Turn text(String user, String assistant) {
      return new Turn(user, assistant, null);
    }

    public static Turn ids(String user, int... assistantIds) {
      return new Turn(user, null, assistantIds);
    }
  }

  // <t0.41>, <h.5>, <w1> ; <TEMP-INPUT0.41>, <WIDTH-OUTPUT0.3> ; group 4 = the value text
  private static final Pattern COORD =
      Pattern.compile("<(?:([thw])|(TEMP|HEIGHT|WIDTH)-(INPUT|OUTPUT))([^<>\\s]*)>");
  private static final Pattern NUMBER = Pattern.compile("[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)");

  private final Tokenizer tokenizer;
  private final SpecialTokens sp;
  private final int imageTokens;
  private final int fastTokens;
  private final int slowTokens;
  private final int[] newline;
  private final int[] systemRole;
  private final int[] userRole;
  private final int[] assistantRole;
  private final List<String> forbidden;

  /**
   * @param tokenizer the checkpoint's tokenizer
   * @param config the checkpoint's config (grid size and frame count fix the block sizes)
   */
  public ChatTemplate(Tokenizer tokenizer, ModelConfig config) {
    this.tokenizer = tokenizer;
    this.sp = tokenizer.specialTokens();
    int grid = config.vision().gridSize();
    if (grid % 9 != 0 || config.numFrames() % 5 != 0) {
      throw new IllegalArgumentException(
          "the STP layout needs a patch grid divisible by 9 and a frame count"
              + " divisible by 5, got grid "
              + grid
              + " and "
              + config.numFrames()
              + " frames");
    }
    this.imageTokens = grid * grid; // 729
    this.fastTokens = config.numFrames() * (grid / 9) * (grid / 9); // 100 * 9 = 900
    this.slowTokens = (config.numFrames() / 5) * (grid / 3) * (grid / 3); // 20 * 81 = 1620
    this.newline = tokenizer.encode("\n");
    this.systemRole = tokenizer.encode("system");
    this.userRole = tokenizer.encode("user");
    this.assistantRole = tokenizer.encode("assistant");
    List<String> f =
        new ArrayList<>(
            List.of(SpecialTokens.END_OF_TEXT, SpecialTokens.IM_START, SpecialTokens.IM_END));
    f.addAll(SpecialTokens.MARKERS);
    this.forbidden = List.copyOf(f);
  }

  /** Ids in an image block (729). */
  public int imageTokens() {
    return imageTokens;
  }

  /** Ids in the video's fast (placeholder-only) block (900). */
  public int videoFastTokens() {
    return fastTokens;
  }

  /** Ids in the video's slow block, overwritten by features (1620). */
  public int videoSlowTokens() {
    return slowTokens;
  }

  /** Single-turn prompt with the default system prompt. */
  public RenderedPrompt render(Media media, String question) {
    return render(null, media, List.of(), question);
  }

  /**
   * Renders a conversation.
   *
   * @param systemPrompt null or empty for {@link #DEFAULT_SYSTEM_PROMPT}
   * @param media the media of the session; its block goes into the first user message
   * @param history earlier turns, oldest first
   * @param question the new user message
   * @throws PromptFormatException for a malformed coordinate or a forbidden token in any text
   */
  public RenderedPrompt render(
      @Nullable String systemPrompt, Media media, List<Turn> history, String question) {
    Objects.requireNonNull(media, "media");
    Objects.requireNonNull(question, "question");
    String system =
        systemPrompt == null || systemPrompt.isEmpty() ? DEFAULT_SYSTEM_PROMPT : systemPrompt;
    IntList ids = new IntList(media == Media.VIDEO ? 2600 : media == Media.IMAGE ? 800 : 64);
    List<PromptInput.ValueToken> values = new ArrayList<>();

    ids.add(sp.imStart()).addAll(systemRole).addAll(newline);
    ids.addAll(encodePlain(system, "system prompt"));
    ids.add(sp.imEnd()).addAll(newline);

    int[] mediaPos = {-1};
    boolean first = true;
    for (Turn t : history) {
      userMessage(ids, values, t.user(), first ? media : Media.NONE, mediaPos);
      first = false;
      ids.add(sp.imStart()).addAll(assistantRole).addAll(newline);
      if (t.assistantText() != null) {
        appendText(ids, values, t.assistantText(), 0, "assistant turn");
      } else {
        int[] assistantIds = Objects.requireNonNull(t.assistantIds(), "checked by Turn");
        for (int id : assistantIds) {
          if (id < 0 || id >= sp.extendedVocabSize() || sp.isControl(id)) {
            throw new PromptFormatException(
                "assistant turn id "
                    + id
                    + " is not a generated text or bin id"
                    + " (control and marker tokens are not allowed; pass the ids without the stop token)");
          }
          if (sp.isValueSlot(id)) {
            throw new PromptFormatException(
                "assistant turn id " + id + " is a value slot without a value");
          }
          ids.add(id);
        }
      }
      ids.add(sp.imEnd()).addAll(newline);
    }
    userMessage(ids, values, question, first ? media : Media.NONE, mediaPos);
    ids.add(sp.imStart()).addAll(assistantRole).addAll(newline);

    int p0 = mediaPos[0];
    int visualStart = -1;
    int visualLength = 0;
    if (media == Media.IMAGE) {
      visualStart = p0;
      visualLength = imageTokens;
    } else if (media == Media.VIDEO) {
      visualStart = p0 + fastTokens;
      visualLength = slowTokens;
    }
    return new RenderedPrompt(ids.toArray(), media, p0, visualStart, visualLength, values);
  }

  private void userMessage(
      IntList ids, List<PromptInput.ValueToken> values, String text, Media media, int[] mediaPos) {
    ids.add(sp.imStart()).addAll(userRole).addAll(newline);
    String value = text;
    if (media != Media.NONE) {
      mediaPos[0] = ids.size();
      if (media == Media.IMAGE) {
        ids.add(sp.imageStart()).addRepeated(sp.imagePatch(), imageTokens - 2).add(sp.imageEnd());
      } else {
        ids.add(sp.vidStart()).addRepeated(sp.vidPatch(), fastTokens - 2).add(sp.vidEnd());
        ids.add(sp.slowVidStart()).addRepeated(sp.vidPatch(), slowTokens - 2).add(sp.slowVidEnd());
      }
      value = "\n" + text; // the reference tokenizes "<video>\n{question}" as one string
    }
    appendText(ids, values, value, value.length() - text.length(), "user message");
    ids.add(sp.imEnd()).addAll(newline);
  }

  /**
   * Replaces coordinates by value-slot tokens, encodes the whole string once, records the values.
   */
  private void appendText(
      IntList ids, List<PromptInput.ValueToken> values, String text, int shift, String where) {
    StringBuilder sb = new StringBuilder(text.length());
    List<Float> vals = new ArrayList<>();
    Matcher m = COORD.matcher(text);
    int last = 0;
    while (m.find()) {
      String body = m.group(4);
      String slot;
      if (m.group(1) != null) {
        if (!body.isEmpty() && "-+.0123456789".indexOf(body.charAt(0)) < 0) {
          continue; // e.g. <table>: ordinary text
        }
        slot =
            m.group(1).equals("t")
                ? SpecialTokens.TEMP_INPUT
                : m.group(1).equals("h") ? SpecialTokens.HEIGHT_INPUT : SpecialTokens.WIDTH_INPUT;
      } else {
        slot = "<" + m.group(2) + "-" + m.group(3) + ">";
      }
      if (!NUMBER.matcher(body).matches()) {
        throw new PromptFormatException(
            "malformed coordinate '"
                + m.group()
                + "' at character "
                + (m.start() - shift)
                + " of the "
                + where
                + ": expected a number in [0, 1] such as <t0.41>, <h0.05>, <w0.3>");
      }
      String plain = text.substring(last, m.start());
      checkPlain(plain, last - shift, where);
      sb.append(plain).append(slot);
      vals.add(normalize(body));
      last = m.end();
    }
    String tail = text.substring(last);
    checkPlain(tail, last - shift, where);
    sb.append(tail);
    int[] enc = tokenizer.encode(sb.toString());
    int k = 0;
    for (int id : enc) {
      if (sp.isValueSlot(id)) {
        if (k >= vals.size()) {
          throw new PromptFormatException(
              "the " + where + " contains a value slot without a value");
        }
        values.add(new PromptInput.ValueToken(ids.size(), vals.get(k++)));
      }
      ids.add(id);
    }
    if (k != vals.size()) {
      throw new IllegalStateException(
          "tokenizer produced "
              + k
              + " value slots for "
              + vals.size()
              + " coordinates in the "
              + where);
    }
  }

  private int[] encodePlain(String text, String where) {
    checkPlain(text, 0, where);
    int[] enc = tokenizer.encode(text);
    for (int id : enc) {
      if (sp.isValueSlot(id)) {
        throw new PromptFormatException("the " + where + " contains a value slot without a value");
      }
    }
    return enc;
  }

  private void checkPlain(String text, int offset, String where) {
    for (String f : forbidden) {
      int at = text.indexOf(f);
      if (at >= 0) {
        throw new PromptFormatException(
            "the "
                + where
                + " contains the reserved token "
                + f
                + " at character "
                + (offset + at)
                + "; control and media marker tokens cannot be written in text");
      }
    }
    for (String slot :
        List.of(
            SpecialTokens.TEMP_INPUT,
            SpecialTokens.TEMP_OUTPUT,
            SpecialTokens.HEIGHT_INPUT,
            SpecialTokens.HEIGHT_OUTPUT,
            SpecialTokens.WIDTH_INPUT,
            SpecialTokens.WIDTH_OUTPUT)) {
      if (text.contains(slot)) {
        throw new PromptFormatException(
            "the "
                + where
                + " contains "
                + slot
                + " without a value; write e.g. "
                + slot.substring(0, slot.length() - 1)
                + "0.5> or the shorthand <t0.5>");
      }
    }
  }

  /**
   * {@code clip(round(v, 3), 0, 1)} with Python's exact half-even rounding of the parsed double.
   */
  static float normalize(String number) {
    double v = Double.parseDouble(number);
    double r = new BigDecimal(v).setScale(3, RoundingMode.HALF_EVEN).doubleValue();
    return (float) Math.max(0.0, Math.min(1.0, r));
  }

  /** A growable int array. */
  private static final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) {
      a = new int[capacity];
    }

    IntList add(int v) {
      if (n == a.length) {
        a = Arrays.copyOf(a, a.length * 2 + 8);
      }
      a[n++] = v;
      return this;
    }

    IntList addAll(int[] vs) {
      for (int v : vs) {
        add(v);
      }
      return this;
    }

    IntList addRepeated(int v, int count) {
      for (int i = 0; i < count; i++) {
        add(v);
      }
      return this;
    }

    int size() {
      return n;
    }

    int[] toArray() {
      return Arrays.copyOf(a, n);
    }
  }
}

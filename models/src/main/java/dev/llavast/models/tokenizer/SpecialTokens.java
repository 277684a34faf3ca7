package dev.llavast.models.tokenizer;

/**
 * Every special id of a LLaVA-ST tokenizer, each looked up by its string (spec §7.1). The bins are
 * {@code <TEMP-k>} = {@code firstTempBin + k}, {@code <HEIGHT-k>} = {@code firstHeightBin + k},
 * {@code <WIDTH-k>} = {@code firstWidthBin + k}, with {@code firstTempBin == vocabSize}. Immutable.
 *
 * @param vocabSize V: rows of {@code embed_tokens}; ids {@code >= V} are coordinate bins
 * @param bins bins per axis (100)
 */
public record SpecialTokens(
    int vocabSize,
    int bins,
    int endOfText,
    int imStart,
    int imEnd,
    int imageStart,
    int imageEnd,
    int imagePatch,
    int vidStart,
    int vidEnd,
    int vidPatch,
    int slowVidStart,
    int slowVidEnd,
    int tempInput,
    int tempOutput,
    int heightInput,
    int heightOutput,
    int widthInput,
    int widthOutput,
    int firstTempBin,
    int firstHeightBin,
    int firstWidthBin) {

  public static final String END_OF_TEXT = "<|endoftext|>";
  public static final String IM_START = "<|im_start|>";
  public static final String IM_END = "<|im_end|>";
  public static final String IMAGE_START = "<im_start>";
  public static final String IMAGE_END = "<im_end>";
  public static final String IMAGE_PATCH = "<im_patch>";
  public static final String VID_START = "<vid_start>";
  public static final String VID_END = "<vid_end>";
  public static final String VID_PATCH = "<vid_patch>";
  public static final String SLOW_VID_START = "<slow_vid_start>";
  public static final String SLOW_VID_END = "<slow_vid_end>";
  public static final String TEMP_INPUT = "<TEMP-INPUT>";
  public static final String TEMP_OUTPUT = "<TEMP-OUTPUT>";
  public static final String HEIGHT_INPUT = "<HEIGHT-INPUT>";
  public static final String HEIGHT_OUTPUT = "<HEIGHT-OUTPUT>";
  public static final String WIDTH_INPUT = "<WIDTH-INPUT>";
  public static final String WIDTH_OUTPUT = "<WIDTH-OUTPUT>";

  /** The 14 marker and value-slot tokens, in the order the release added them (ids V-14 .. V-1). */
  public static final java.util.List<String> MARKERS =
      java.util.List.of(
          IMAGE_START,
          IMAGE_END,
          IMAGE_PATCH,
          VID_START,
          VID_END,
          VID_PATCH,
          SLOW_VID_START,
          SLOW_VID_END,
          TEMP_INPUT,
          TEMP_OUTPUT,
          HEIGHT_INPUT,
          HEIGHT_OUTPUT,
          WIDTH_INPUT,
          WIDTH_OUTPUT);

  /**
   * {@code <TEMP-012>} style name of bin {@code k} on {@code axis} ("TEMP", "HEIGHT" or "WIDTH").
   */
  public static String binToken(String axis, int k) {
    return String.format(java.util.Locale.ROOT, "<%s-%03d>", axis, k);
  }

  /** True for an id {@code >= V} that names a coordinate bin. */
  public boolean isBin(int id) {
    return id >= firstTempBin && id < firstTempBin + 3 * bins;
  }

  /**
   * True for one of the six value-slot tokens ({@code <TEMP-INPUT>} ... {@code <WIDTH-OUTPUT>}).
   */
  public boolean isValueSlot(int id) {
    return id == tempInput
        || id == tempOutput
        || id == heightInput
        || id == heightOutput
        || id == widthInput
        || id == widthOutput;
  }

  /** True for a ChatML control token or one of the eight media markers. */
  public boolean isControl(int id) {
    return id == endOfText
        || id == imStart
        || id == imEnd
        || id == imageStart
        || id == imageEnd
        || id == imagePatch
        || id == vidStart
        || id == vidEnd
        || id == vidPatch
        || id == slowVidStart
        || id == slowVidEnd;
  }

  /** Total ids the extended head produces: {@code V + 3 * bins}. */
  public int extendedVocabSize() {
    return vocabSize + 3 * bins;
  }
}

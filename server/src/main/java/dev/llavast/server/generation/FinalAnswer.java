package dev.llavast.server.generation;

import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Task;
import dev.llavast.models.coords.TaskResult;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.server.media.MediaGeometry;
import java.util.List;

/**
 * A finished answer and everything a transport may report about it.
 *
 * @param requestId the request's id (the client's, or one the engine chose)
 * @param mediaId the content id of the media the question was about
 * @param mediaKey the feature-cache key: the media id and the preprocessing that made its features
 * @param mediaKind what the media is: a video, an image or a frame sequence
 * @param finish why generation ended
 * @param text the whole answer; coordinate tokens appear as their literal text
 * @param coordinates every coordinate group, in answer order
 * @param pieces the whole answer as decoded: text and groups, in order
 * @param task the task the answer was read for
 * @param result the answer shaped by its task
 * @param tokenIds every generated id, the stop token excluded
 * @param logprobs log-probability of each id in {@code tokenIds} ({@code NaN} when not requested)
 * @param stopTokenId the stop token sampled, or -1 when none ended the answer
 * @param stopLogprob its log-probability ({@code NaN} when none or not requested)
 * @param usage token counts
 * @param timings where the time went, from the request's arrival
 * @param media the media's geometry: how seconds and pixels were computed
 * @param featureCacheHit true when this request started no media decode and no encode
 * @param question the question as rendered into the prompt (task template applied)
 * @param prompt the whole prompt as token ids, with its media span and value tokens
 */
public record FinalAnswer(
    String requestId,
    String mediaId,
    String mediaKey,
    DecodedMedia.Kind mediaKind,
    Finish finish,
    String text,
    List<AnswerCoordinate> coordinates,
    List<Piece> pieces,
    Task task,
    TaskResult result,
    int[] tokenIds,
    float[] logprobs,
    int stopTokenId,
    float stopLogprob,
    Usage usage,
    Timings timings,
    MediaGeometry media,
    boolean featureCacheHit,
    String question,
    RenderedPrompt prompt) {

  public FinalAnswer {
    coordinates = List.copyOf(coordinates);
    pieces = List.copyOf(pieces);
  }

  /** Why an answer ended. */
  public enum Finish {
    /** The model sampled a stop token. */
    STOP,
    /** The request's token limit. */
    LENGTH,
    /** The model's context limit. */
    CONTEXT_LENGTH,
    /** A stop string matched; the text ends before it. */
    STOP_STRING
  }

  /**
   * @param promptTokens prompt length, visual positions included
   * @param visualTokens positions the media's features fill
   * @param cachedTokens prompt tokens served from the prefix cache
   * @param generatedTokens tokens sampled (a sampled stop token counts)
   * @param preemptions how often the request was preempted and recomputed
   */
  public record Usage(
      int promptTokens, int visualTokens, int cachedTokens, int generatedTokens, int preemptions) {}

  /**
   * Seconds from the request's arrival to its final message, split so that the parts add up to
   * {@code total}: time not spent decoding media, encoding, prefilling or decoding is queue time.
   *
   * @param queue waiting: for admission, for a media load another request started, for a worker
   * @param mediaDecode decoding and preprocessing the media (0 on a feature-cache hit)
   * @param encode the vision encoder (0 on a feature-cache hit)
   * @param prefill first admission to the first token
   * @param decode first token to the end
   * @param total arrival to the end
   * @param timeToFirstToken arrival to the first token (0 when none was generated)
   */
  public record Timings(
      double queue,
      double mediaDecode,
      double encode,
      double prefill,
      double decode,
      double total,
      double timeToFirstToken) {

    /**
     * Splits {@code totalNanos} into parts that add up: each measured part is capped by what is
     * left of the total after the parts before it, and the remainder is queue time.
     */
    static Timings of(
        long totalNanos,
        long mediaDecodeNanos,
        long encodeNanos,
        long prefillNanos,
        long decodeNanos,
        long ttftNanos) {
      long left = Math.max(0, totalNanos);
      long d = clamp(mediaDecodeNanos, left);
      left -= d;
      long e = clamp(encodeNanos, left);
      left -= e;
      long p = clamp(prefillNanos, left);
      left -= p;
      long g = clamp(decodeNanos, left);
      left -= g;
      return new Timings(
          left / 1e9,
          d / 1e9,
          e / 1e9,
          p / 1e9,
          g / 1e9,
          Math.max(0, totalNanos) / 1e9,
          clamp(ttftNanos, Math.max(0, totalNanos)) / 1e9);
    }

    private static long clamp(long v, long max) {
      return Math.max(0, Math.min(v, max));
    }
  }
}

package dev.llavast.server.generation;

import dev.llavast.models.coords.CoordinateStreamParser;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.Task;
import dev.llavast.models.coords.TaskResult;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.models.tokenizer.StreamDecoder;
import dev.llavast.scheduler.FinishReason;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.scheduler.TokenSink;
import dev.llavast.server.media.MediaGeometry;
import dev.llavast.server.observability.Metrics;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.IntPredicate;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Turns one request's generated tokens into an answer, the one place that does it for every door
 * (gRPC, the {@code generate} command): incremental detokenization that never splits a UTF-8
 * character, coordinate groups decoded into seconds and pixels and released whole (the text of an
 * open group is held back until the group completes, so its literal text and its structured value
 * leave in the same {@link AnswerDelta}), stop strings that may span tokens, then exactly one
 * {@link FinalAnswer}.
 *
 * <p><b>Threading.</b> The scheduler calls the {@link TokenSink} methods on one worker thread, in
 * order; they only hand values to the {@link AnswerListener} (which never blocks) and return.
 * {@link #bind} is called once, on the media thread, before the prompt is released to the
 * scheduler; that release orders its writes before every worker-thread read.
 */
final class AnswerAssembler implements TokenSink {

  /**
   * What the assembler needs to know about the request besides its tokens.
   *
   * @param arrivalNanos {@link System#nanoTime()} when the request arrived
   * @param mediaDecodeNanos decode time of the load this request started (0 on a hit)
   * @param encodeNanos encode time of the load this request started (0 on a hit)
   */
  record Context(
      String requestId,
      String mediaId,
      String mediaKey,
      DecodedMedia.Kind mediaKind,
      Task task,
      MediaGeometry media,
      boolean featureCacheHit,
      int visualTokens,
      long arrivalNanos,
      long mediaDecodeNanos,
      long encodeNanos,
      String question,
      RenderedPrompt prompt) {}

  /** Symbols whose text start is remembered: more than the parser ever holds. */
  private static final int SYMBOL_RING = 256;

  // set once by bind(), before any token arrives
  private @Nullable Context ctx;
  private @Nullable CoordinateStreamParser parser;
  private @Nullable IntPredicate isBin;
  // where in `text` each of the last SYMBOL_RING symbols fed to the parser begins
  private final int[] symbolStart = new int[SYMBOL_RING];
  private long symbols;
  private final List<String> stops;
  private final int maxStopChars;
  private final StreamDecoder decoder;
  private final AnswerListener listener;
  private final Metrics metrics;
  private final LongSupplier nanoClock;

  private final StringBuilder text =
      new StringBuilder(); // the whole answer so far (literal bin tokens)
  private int sentChars; // prefix of `text` already sent in deltas
  private int utf8Chars; // prefix of `text` whose UTF-8 length is `utf8Bytes`
  private int utf8Bytes;
  private final List<Piece> pieces = new ArrayList<>();
  private final List<AnswerCoordinate> coordinates = new ArrayList<>();
  private int sentCoordinates;
  private int[] ids = new int[16];
  private float[] logprobs = new float[16];
  private int count;
  private int sentIds;
  private int stopTokenId = -1;
  private float stopLogprob = Float.NaN;
  private long firstTokenNanos;
  private long lastTokenNanos;
  private boolean stopStringHit;

  /**
   * @param stops stop strings: the answer ends before the first one that appears
   * @param nanoClock the clock of {@code arrivalNanos} ({@code System::nanoTime} outside tests)
   */
  AnswerAssembler(
      List<String> stops,
      StreamDecoder decoder,
      AnswerListener listener,
      Metrics metrics,
      LongSupplier nanoClock) {
    this.stops = List.copyOf(stops);
    this.decoder = decoder;
    this.listener = listener;
    this.metrics = metrics;
    this.nanoClock = nanoClock;
    int longest = 0;
    for (String s : stops) {
      longest = Math.max(longest, s.length());
    }
    this.maxStopChars = longest;
  }

  /**
   * Supplies what is known once the media is resolved: the request's context and the coordinate
   * parser for the media's geometry. Called once, before the prompt is handed to the scheduler.
   *
   * @param isCoordinate tells coordinate ids (one parser symbol each) from ordinary tokens (a
   *     symbol per character of their text)
   */
  void bind(Context context, CoordinateStreamParser coordinateParser, IntPredicate isCoordinate) {
    this.ctx = context;
    this.parser = coordinateParser;
    this.isBin = isCoordinate;
  }

  private Context ctx() {
    if (ctx == null) {
      throw new IllegalStateException("bind() was not called");
    }
    return ctx;
  }

  private CoordinateStreamParser parser() {
    if (parser == null) {
      throw new IllegalStateException("bind() was not called");
    }
    return parser;
  }

  private IntPredicate isBin() {
    if (isBin == null) {
      throw new IllegalStateException("bind() was not called");
    }
    return isBin;
  }

  @Override
  public boolean onToken(int tokenId, float logprob) {
    long now = nanoClock.getAsLong();
    if (firstTokenNanos == 0) {
      firstTokenNanos = now;
      metrics.ttft.observe((now - ctx().arrivalNanos()) / 1e9);
    } else {
      metrics.interToken.observe((now - lastTokenNanos) / 1e9);
    }
    lastTokenNanos = now;
    if (count == ids.length) {
      ids = Arrays.copyOf(ids, 2 * count);
      logprobs = Arrays.copyOf(logprobs, 2 * count);
    }
    ids[count] = tokenId;
    logprobs[count] = logprob;
    count++;
    String piece = decoder.push(tokenId);
    int before = text.length();
    text.append(piece);
    if (isBin().test(tokenId)) {
      symbolStart[(int) (symbols++ % SYMBOL_RING)] = before;
    } else {
      for (int i = 0; i < piece.length(); i++) {
        symbolStart[(int) (symbols++ % SYMBOL_RING)] = before + i;
      }
    }
    absorb(parser().onToken(tokenId, piece));
    if (!stops.isEmpty() && matchStop(before)) {
      return false;
    }
    flush(false);
    return true;
  }

  @Override
  public void onStopToken(int tokenId, float logprob) {
    stopTokenId = tokenId;
    stopLogprob = logprob;
  }

  @Override
  public void onFinish(FinishReason reason, dev.llavast.scheduler.Usage usage) {
    if (!stopStringHit) {
      int before = text.length();
      text.append(decoder.finish());
      if (!stops.isEmpty()) {
        matchStop(before);
      }
    }
    absorb(parser().finish());
    flush(true);
    FinalAnswer.Finish finish = stopStringHit ? FinalAnswer.Finish.STOP_STRING : finishOf(reason);
    long now = nanoClock.getAsLong();
    metrics.requestSuccess.labelValues(finish.name().toLowerCase(Locale.ROOT)).inc();
    metrics.e2e.observe((now - ctx().arrivalNanos()) / 1e9);
    metrics.requestPromptTokens.observe(usage.promptTokens());
    metrics.requestGenerationTokens.observe(usage.generatedTokens());
    metrics.generationTokens.inc(usage.generatedTokens());
    metrics.promptTokens.inc(usage.promptTokens());
    metrics.queueTime.observe(usage.queueNanos() / 1e9);
    listener.onFinish(finalAnswer(finish, usage, now));
  }

  @Override
  public void onError(SchedulerException error, dev.llavast.scheduler.Usage usage) {
    fail(Failures.toApi(error));
  }

  /** Ends the answer with an error (also before the scheduler took the request). Any one thread. */
  void fail(dev.llavast.server.errors.ApiException error) {
    metrics.requestFailure.labelValues(error.reason().name()).inc();
    listener.onError(error);
  }

  private FinalAnswer finalAnswer(
      FinalAnswer.Finish finish, dev.llavast.scheduler.Usage usage, long now) {
    FinalAnswer.Timings timings =
        FinalAnswer.Timings.of(
            now - ctx().arrivalNanos(),
            ctx().mediaDecodeNanos(),
            ctx().encodeNanos(),
            usage.prefillNanos(),
            usage.decodeNanos(),
            firstTokenNanos == 0 ? 0 : firstTokenNanos - ctx().arrivalNanos());
    return new FinalAnswer(
        ctx().requestId(),
        ctx().mediaId(),
        ctx().mediaKey(),
        ctx().mediaKind(),
        finish,
        text.toString(),
        coordinates,
        pieces,
        ctx().task(),
        TaskResult.of(ctx().task(), pieces),
        Arrays.copyOf(ids, count),
        Arrays.copyOf(logprobs, count),
        stopTokenId,
        stopLogprob,
        new FinalAnswer.Usage(
            usage.promptTokens(),
            ctx().visualTokens(),
            usage.cachedTokens(),
            usage.generatedTokens(),
            usage.preemptions()),
        timings,
        ctx().media(),
        ctx().featureCacheHit(),
        ctx().question(),
        ctx().prompt());
  }

  /**
   * Looks for a stop string that ends in the text appended since {@code from}; truncates the answer
   * there.
   */
  private boolean matchStop(int from) {
    int searchFrom = Math.max(0, from - maxStopChars + 1);
    int best = -1;
    for (String stop : stops) {
      int at = text.indexOf(stop, searchFrom);
      if (at >= 0 && (best < 0 || at < best)) {
        best = at;
      }
    }
    if (best < 0) {
      return false;
    }
    text.setLength(Math.max(best, sentChars));
    if (utf8Chars > text.length()) {
      utf8Chars = 0; // counted over text that is gone
      utf8Bytes = 0;
    }
    stopStringHit = true;
    return true;
  }

  private void absorb(List<Piece> emitted) {
    for (Piece p : emitted) {
      pieces.add(p);
      if (!(p instanceof Piece.Text)) {
        coordinates.add(new AnswerCoordinate(p, offsetOf(p)));
      }
    }
  }

  /**
   * Sends what can be sent: nothing of an open coordinate group, nothing that may start a stop
   * string.
   */
  private void flush(boolean last) {
    int end = text.length();
    if (!last) {
      if (parser().holding()) {
        end = openGroupStart();
      }
      if (maxStopChars > 1) {
        end = Math.min(end, text.length() - (maxStopChars - 1));
      }
    }
    end = Math.max(end, sentChars);
    boolean hasText = end > sentChars;
    boolean hasCoords = sentCoordinates < coordinates.size();
    if (!hasText && !hasCoords && !(last && sentIds < count)) {
      return;
    }
    AnswerDelta d =
        new AnswerDelta(
            text.substring(sentChars, end),
            coordinates.subList(sentCoordinates, coordinates.size()),
            Arrays.copyOfRange(ids, sentIds, count),
            Arrays.copyOfRange(logprobs, sentIds, count),
            ctx().media().clipStartSeconds());
    sentChars = end;
    sentCoordinates = coordinates.size();
    sentIds = count;
    listener.onDelta(d);
  }

  /**
   * Where the group the parser holds begins in {@link #text}: the text of its first held symbol.
   */
  private int openGroupStart() {
    int held = parser().heldSymbols();
    if (held == 0) {
      return text.length();
    }
    return Math.max(symbolStart[(int) ((symbols - held) % SYMBOL_RING)], sentChars);
  }

  /** The UTF-8 offset in {@link #text} of a just-completed group's first character. */
  private int offsetOf(Piece p) {
    int start;
    if (p instanceof Timestamp) {
      start = text.lastIndexOf("<TEMP-");
    } else if (p instanceof TimedBox) {
      int bracket = text.lastIndexOf("[");
      start =
          bracket < 0
              ? -1
              : text.lastIndexOf("<TEMP-", bracket); // "<TEMP-012>: [..]" starts at its bin
    } else if (p instanceof Span || p instanceof dev.llavast.models.coords.Box) {
      start = Math.max(text.lastIndexOf("{"), text.lastIndexOf("["));
      if (start < 0) {
        start = text.lastIndexOf("<TEMP-");
      }
    } else {
      start = text.lastIndexOf("<"); // a stray bin: its own token
    }
    return start < 0 ? 0 : utf8Offset(start);
  }

  /**
   * UTF-8 length of {@code text[0, chars)}, counted on from the last offset asked for (groups
   * complete in order), so a long answer costs linear time, not a re-encoding of its whole prefix
   * per group. {@code chars} is never inside a surrogate pair (groups start at ASCII).
   */
  private int utf8Offset(int chars) {
    if (chars < utf8Chars) {
      utf8Chars = 0;
      utf8Bytes = 0;
    }
    for (int i = utf8Chars; i < chars; i++) {
      char c = text.charAt(i);
      if (c < 0x80) {
        utf8Bytes += 1;
      } else if (c < 0x800) {
        utf8Bytes += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < chars
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        utf8Bytes += 4;
        i++;
      } else if (Character.isSurrogate(c)) {
        utf8Bytes += 1; // an unpaired surrogate encodes as '?', as String.getBytes does
      } else {
        utf8Bytes += 3;
      }
    }
    utf8Chars = chars;
    return utf8Bytes;
  }

  private static FinalAnswer.Finish finishOf(FinishReason reason) {
    return switch (reason) {
      case STOP_TOKEN -> FinalAnswer.Finish.STOP;
      case LENGTH -> FinalAnswer.Finish.LENGTH;
      case CONTEXT_LIMIT -> FinalAnswer.Finish.CONTEXT_LENGTH;
      case STOPPED_BY_SINK -> FinalAnswer.Finish.STOP_STRING;
    };
  }
}

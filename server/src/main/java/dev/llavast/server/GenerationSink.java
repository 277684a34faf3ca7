package dev.llavast.server;

import dev.llavast.api.v1.BoxCoordinate;
import dev.llavast.api.v1.Coordinate;
import dev.llavast.api.v1.FinishReason;
import dev.llavast.api.v1.GenerateDelta;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.TaskResult;
import dev.llavast.api.v1.Timings;
import dev.llavast.api.v1.Usage;
import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.CoordinateStreamParser;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.models.tokenizer.StreamDecoder;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.scheduler.TokenSink;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Turns one request's generated tokens into API messages: incremental detokenization that never
 * splits a UTF-8 character, coordinate groups decoded into seconds and pixels and emitted whole
 * (the text of an open group is held back until the group completes, so its literal text and its
 * structured value leave in the same delta), stop strings, then exactly one final message.
 *
 * <p>Threading: the scheduler calls the {@link TokenSink} methods on one worker thread, in order;
 * they only append to the {@link Output} (which never blocks) and return.
 */
final class GenerationSink implements TokenSink {

  /** Where messages go. Implementations never block. */
  interface Output {
    /** A delta (streaming only; unary calls drop it). */
    void delta(GenerateStreamResponse delta);

    /** The final message; ends the call with OK. */
    void finish(GenerateStreamResponse fin);

    /** Ends the call with an error. */
    void fail(StatusRuntimeException error);
  }

  /** What the sink needs to know about the request besides its tokens. */
  record Context(
      String requestId,
      String mediaId,
      dev.llavast.models.coords.Task task,
      dev.llavast.api.v1.Task apiTask,
      OutputOptions options,
      List<String> stops,
      double clipStartSeconds,
      long arrivalNanos,
      double mediaDecodeSeconds,
      double encodeSeconds,
      double mediaQueueSeconds,
      boolean featureCacheHit,
      int visualTokens) {}

  // Set by bind() before the prompt is released to the scheduler; the prompt future's completion
  // orders these writes before every worker-thread read.
  private Context ctx;
  private CoordinateStreamParser parser;
  private final StreamDecoder decoder;
  private final Output out;
  private final Metrics metrics;
  private final LongSupplier nanoClock;
  private Consumer<List<Integer>> onAnswer;
  private final int maxStopChars;

  private final StringBuilder text = new StringBuilder(); // the whole answer so far (raw, literal bin tokens)
  private int sentChars; // prefix of `text` already sent in deltas
  private final List<Piece> pieces = new ArrayList<>();
  private final List<Coordinate> coordinates = new ArrayList<>();
  private int sentCoordinates;
  private final List<Integer> ids = new ArrayList<>();
  private final List<Float> logprobs = new ArrayList<>();
  private int sentIds;
  private long firstTokenNanos;
  private long lastTokenNanos;
  private boolean stopStringHit;

  /**
   * @param onAnswer receives the generated ids when the answer completes normally (sessions keep them)
   */
  GenerationSink(List<String> stops, StreamDecoder decoder, Output out, Metrics metrics, LongSupplier nanoClock,
      Consumer<List<Integer>> onAnswer) {
    this.decoder = decoder;
    this.out = out;
    this.metrics = metrics;
    this.nanoClock = nanoClock;
    this.onAnswer = onAnswer;
    int longest = 0;
    for (String s : stops) {
      longest = Math.max(longest, s.length());
    }
    this.maxStopChars = longest;
  }

  /**
   * Supplies what is known once the media is resolved: the request's context and the coordinate
   * parser for the media's geometry. Called once, before the prompt is handed to the scheduler.
   */
  /** Replaces the consumer of the finished answer's ids. Call before the prompt is released. */
  void onAnswer(Consumer<List<Integer>> consumer) {
    this.onAnswer = consumer;
  }

  void bind(Context context, CoordinateStreamParser coordinateParser) {
    this.ctx = context;
    this.parser = coordinateParser;
  }

  @Override
  public boolean onToken(int tokenId, float logprob) {
    long now = nanoClock.getAsLong();
    if (firstTokenNanos == 0) {
      firstTokenNanos = now;
      if (metrics != null) {
        metrics.ttft.observe((now - ctx.arrivalNanos()) / 1e9);
      }
    } else if (metrics != null) {
      metrics.interToken.observe((now - lastTokenNanos) / 1e9);
    }
    lastTokenNanos = now;
    ids.add(tokenId);
    logprobs.add(logprob);
    String piece = decoder.push(tokenId);
    int before = text.length();
    text.append(piece);
    absorb(parser.onToken(tokenId, piece));
    if (!ctx.stops().isEmpty() && matchStop(before)) {
      return false;
    }
    flush(false);
    return true;
  }

  @Override
  public void onFinish(dev.llavast.scheduler.FinishReason reason, dev.llavast.scheduler.Usage usage) {
    if (!stopStringHit) {
      int before = text.length();
      text.append(decoder.finish());
      if (!ctx.stops().isEmpty()) {
        matchStop(before);
      }
    }
    absorb(parser.finish());
    flush(true);
    FinishReason fr = stopStringHit ? FinishReason.FINISH_REASON_STOP_STRING : map(reason);
    if (metrics != null) {
      metrics.requestSuccess.labelValues(fr.name().substring("FINISH_REASON_".length()).toLowerCase(java.util.Locale.ROOT)).inc();
      metrics.e2e.observe((nanoClock.getAsLong() - ctx.arrivalNanos()) / 1e9);
      metrics.requestPromptTokens.observe(usage.promptTokens());
      metrics.requestGenerationTokens.observe(usage.generatedTokens());
      metrics.generationTokens.inc(usage.generatedTokens());
      metrics.promptTokens.inc(usage.promptTokens());
      metrics.queueTime.observe(usage.queueNanos() / 1e9);
    }
    onAnswer.accept(List.copyOf(ids));
    out.finish(GenerateStreamResponse.newBuilder().setFinal(finalMessage(fr, usage)).build());
  }

  @Override
  public void onError(SchedulerException error, dev.llavast.scheduler.Usage usage) {
    StatusRuntimeException status = SchedulerErrors.toStatus(error);
    if (metrics != null) {
      metrics.requestFailure.labelValues(SchedulerErrors.reasonOf(status)).inc();
    }
    out.fail(status);
  }

  /** The final message for this answer. Worker thread only. */
  GenerateFinal finalMessage(FinishReason reason, dev.llavast.scheduler.Usage usage) {
    long now = nanoClock.getAsLong();
    GenerateFinal.Builder b = GenerateFinal.newBuilder()
        .setRequestId(ctx.requestId())
        .setFinishReason(reason)
        .setText(text.toString())
        .addAllCoordinates(coordinates)
        .setResult(taskResult())
        .setMediaId(ctx.mediaId())
        .setUsage(Usage.newBuilder()
            .setPromptTokens(usage.promptTokens())
            .setVisualTokens(ctx.visualTokens())
            .setCachedTokens(usage.cachedTokens())
            .setGeneratedTokens(usage.generatedTokens())
            .setFeatureCacheHit(ctx.featureCacheHit()))
        .setTimings(Timings.newBuilder()
            .setQueueSeconds(ctx.mediaQueueSeconds() + usage.queueNanos() / 1e9)
            .setMediaDecodeSeconds(ctx.mediaDecodeSeconds())
            .setEncodeSeconds(ctx.encodeSeconds())
            .setPrefillSeconds(usage.prefillNanos() / 1e9)
            .setDecodeSeconds(usage.decodeNanos() / 1e9)
            .setTotalSeconds((now - ctx.arrivalNanos()) / 1e9)
            .setTimeToFirstTokenSeconds(firstTokenNanos == 0 ? 0 : (firstTokenNanos - ctx.arrivalNanos()) / 1e9));
    if (ctx.options().getReturnTokenIds()) {
      b.addAllTokenIds(ids);
    }
    if (ctx.options().getReturnLogprobs()) {
      b.addAllLogprobs(logprobs);
    }
    return b.build();
  }

  /** Looks for a stop string that ends in the text appended since {@code from}; truncates the answer there. */
  private boolean matchStop(int from) {
    int searchFrom = Math.max(0, from - maxStopChars + 1);
    int best = -1;
    for (String stop : ctx.stops()) {
      int at = text.indexOf(stop, searchFrom);
      if (at >= 0 && (best < 0 || at < best)) {
        best = at;
      }
    }
    if (best < 0) {
      return false;
    }
    text.setLength(Math.max(best, sentChars));
    stopStringHit = true;
    return true;
  }

  private void absorb(List<Piece> emitted) {
    for (Piece p : emitted) {
      pieces.add(p);
      Coordinate c = toCoordinate(p);
      if (c != null) {
        coordinates.add(c);
      }
    }
  }

  /** Sends what can be sent: nothing of an open coordinate group, nothing that may start a stop string. */
  private void flush(boolean last) {
    int end = text.length();
    if (!last) {
      if (parser.holding()) {
        end = openGroupStart();
      }
      if (maxStopChars > 1) {
        end = Math.min(end, text.length() - (maxStopChars - 1));
      }
    }
    end = Math.max(end, sentChars);
    boolean hasText = end > sentChars;
    boolean hasCoords = sentCoordinates < coordinates.size();
    if (!hasText && !hasCoords && !(last && sentIds < ids.size())) {
      return;
    }
    GenerateDelta.Builder d = GenerateDelta.newBuilder().setText(text.substring(sentChars, end));
    d.addAllCoordinates(coordinates.subList(sentCoordinates, coordinates.size()));
    if (ctx.options().getReturnTokenIds()) {
      d.addAllTokenIds(ids.subList(sentIds, ids.size()));
    }
    if (ctx.options().getReturnLogprobs()) {
      d.addAllLogprobs(logprobs.subList(sentIds, ids.size()));
    }
    sentChars = end;
    sentCoordinates = coordinates.size();
    sentIds = ids.size();
    out.delta(GenerateStreamResponse.newBuilder().setDelta(d).build());
  }

  /** Where the group the parser holds begins in {@link #text}: its opening bracket or first bin token. */
  private int openGroupStart() {
    int brace = text.lastIndexOf("{");
    int bracket = text.lastIndexOf("[");
    int bin = text.lastIndexOf("<TEMP-");
    int start = Math.max(brace, bracket);
    // A timed box starts at its timestamp: "<TEMP-012>: [" -> the bin token before the bracket.
    if (bin >= 0 && (start < 0 || (bin < start && text.substring(bin, start).matches("<TEMP-\\d{3}>\\s*:\\s*")))) {
      start = bin;
    } else if (bin > start) {
      start = bin;
    }
    return start < 0 ? text.length() : Math.max(start, sentChars);
  }

  /** The most recent group opener in {@link #text}: a bracket or brace, else the last bin token. */
  private int lastOpener() {
    int start = Math.max(text.lastIndexOf("{"), text.lastIndexOf("["));
    return start >= 0 ? start : text.lastIndexOf("<TEMP-");
  }

  /** A completed group as an API coordinate, with the UTF-8 offset of its first character; null for plain text. */
  private Coordinate toCoordinate(Piece p) {
    Coordinate.Builder c = Coordinate.newBuilder();
    int start;
    if (p instanceof Timestamp t) {
      c.setTimestamp(timestamp(t));
      start = text.lastIndexOf("<TEMP-");
    } else if (p instanceof Span s) {
      c.setSpan(span(s));
      start = lastOpener();
    } else if (p instanceof Box b) {
      c.setBox(box(b));
      start = lastOpener();
    } else if (p instanceof TimedBox tb) {
      c.setTimedBox(timedBox(tb));
      int bracket = text.lastIndexOf("[");
      start = bracket < 0 ? -1 : text.lastIndexOf("<TEMP-", bracket); // "<TEMP-012>: [..]" starts at its bin
    } else {
      return null;
    }
    int offset = start < 0 ? 0 : text.substring(0, start).getBytes(StandardCharsets.UTF_8).length;
    return c.setTextOffsetBytes(offset).build();
  }

  private dev.llavast.api.v1.Timestamp timestamp(Timestamp t) {
    double seconds = Double.isNaN(t.seconds()) ? 0 : t.seconds();
    return dev.llavast.api.v1.Timestamp.newBuilder()
        .setSeconds(seconds)
        .setMediaSeconds(ctx.clipStartSeconds() + seconds)
        .setNormalized(t.normalized())
        .setBin(t.bin())
        .build();
  }

  private dev.llavast.api.v1.Span span(Span s) {
    return dev.llavast.api.v1.Span.newBuilder().setStart(timestamp(s.start())).setEnd(timestamp(s.end())).build();
  }

  private static BoxCoordinate coord(dev.llavast.models.coords.Coordinate c) {
    return BoxCoordinate.newBuilder().setPx(c.pixels()).setNormalized(c.normalized()).setBin(c.bin()).build();
  }

  private static dev.llavast.api.v1.Box box(Box b) {
    return dev.llavast.api.v1.Box.newBuilder()
        .setX1(coord(b.x1())).setY1(coord(b.y1())).setX2(coord(b.x2())).setY2(coord(b.y2())).build();
  }

  private dev.llavast.api.v1.TimedBox timedBox(TimedBox tb) {
    return dev.llavast.api.v1.TimedBox.newBuilder()
        .setTime(timestamp(tb.time()))
        .setBox(box(tb.box()))
        .setSampledFrame(tb.time().bin())
        .build();
  }

  private TaskResult taskResult() {
    dev.llavast.models.coords.TaskResult r = dev.llavast.models.coords.TaskResult.of(ctx.task(), pieces);
    TaskResult.Builder b = TaskResult.newBuilder().setTask(ctx.apiTask());
    if (r.span() != null) {
      b.setSpan(span(r.span()));
    }
    for (TimedBox tb : r.timedBoxes()) {
      b.addTimedBoxes(timedBox(tb));
    }
    if (r.endTime() != null) {
      b.setEndTime(timestamp(r.endTime()));
    }
    if (r.caption() != null) {
      b.setCaption(r.caption());
    } else if (ctx.task() == dev.llavast.models.coords.Task.REG || ctx.task() == dev.llavast.models.coords.Task.TR) {
      b.setCaption(r.text().trim());
    }
    if (ctx.task() == dev.llavast.models.coords.Task.DGC) {
      for (Box box : r.boxes()) {
        b.addBoxes(box(box));
      }
    } else if (r.box() != null) {
      b.addBoxes(box(r.box()));
    }
    return b.build();
  }

  private static FinishReason map(dev.llavast.scheduler.FinishReason reason) {
    switch (reason) {
      case STOP_TOKEN:
        return FinishReason.FINISH_REASON_STOP;
      case LENGTH:
        return FinishReason.FINISH_REASON_LENGTH;
      case CONTEXT_LIMIT:
        return FinishReason.FINISH_REASON_CONTEXT_LENGTH;
      case STOPPED_BY_SINK:
      default:
        return FinishReason.FINISH_REASON_STOP_STRING;
    }
  }

  /** The API task as the coordinate decoder's task. */
  static dev.llavast.models.coords.Task task(dev.llavast.api.v1.Task t) {
    switch (t) {
      case TASK_TVG:
        return dev.llavast.models.coords.Task.TVG;
      case TASK_STVG:
        return dev.llavast.models.coords.Task.STVG;
      case TASK_SVG:
        return dev.llavast.models.coords.Task.SVG;
      case TASK_ELC:
        return dev.llavast.models.coords.Task.ELC;
      case TASK_TR:
        return dev.llavast.models.coords.Task.TR;
      case TASK_REC:
        return dev.llavast.models.coords.Task.REC;
      case TASK_REG:
        return dev.llavast.models.coords.Task.REG;
      case TASK_DGC:
        return dev.llavast.models.coords.Task.DGC;
      default:
        return dev.llavast.models.coords.Task.FREE;
    }
  }
}

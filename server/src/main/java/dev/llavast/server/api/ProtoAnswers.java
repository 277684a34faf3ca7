package dev.llavast.server.api;

import dev.llavast.api.v1.BoxCoordinate;
import dev.llavast.api.v1.Coordinate;
import dev.llavast.api.v1.FinishReason;
import dev.llavast.api.v1.GenerateDelta;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.TaskResult;
import dev.llavast.api.v1.Timings;
import dev.llavast.api.v1.Usage;
import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.Task;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.coords.Timestamp;
import dev.llavast.server.generation.AnswerCoordinate;
import dev.llavast.server.generation.AnswerDelta;
import dev.llavast.server.generation.FinalAnswer;
import java.util.List;

/**
 * The engine's answers as {@code llavast.v1} messages, for every door that speaks them (gRPC as
 * messages, HTTP as their JSON). Only translation: which groups are whole, where text may be split
 * and what a task's result holds were decided by the answer assembly. Coordinates carry seconds
 * from the clip's start and, as {@code media_seconds}, from the media's. Stateless; any thread.
 */
public final class ProtoAnswers {
  private ProtoAnswers() {}

  /** A delta as a stream message. */
  public static GenerateStreamResponse delta(AnswerDelta d, boolean tokenIds, boolean logprobs) {
    GenerateDelta.Builder b = GenerateDelta.newBuilder().setText(d.text());
    addCoordinates(d.coordinates(), d.clipStartSeconds(), b::addCoordinates);
    if (tokenIds) {
      for (int id : d.tokenIds()) {
        b.addTokenIds(id);
      }
    }
    if (logprobs) {
      for (float lp : d.logprobs()) {
        b.addLogprobs(lp);
      }
    }
    return GenerateStreamResponse.newBuilder().setDelta(b).build();
  }

  /** The final message of an answer. */
  public static GenerateFinal fin(FinalAnswer a, boolean tokenIds, boolean logprobs) {
    double clipStart = a.media().clipStartSeconds();
    FinalAnswer.Timings t = a.timings();
    GenerateFinal.Builder b =
        GenerateFinal.newBuilder()
            .setRequestId(a.requestId())
            .setFinishReason(finish(a.finish()))
            .setText(a.text())
            .setResult(result(a, clipStart))
            .setMediaId(a.mediaId())
            .setUsage(
                Usage.newBuilder()
                    .setPromptTokens(a.usage().promptTokens())
                    .setVisualTokens(a.usage().visualTokens())
                    .setCachedTokens(a.usage().cachedTokens())
                    .setGeneratedTokens(a.usage().generatedTokens())
                    .setFeatureCacheHit(a.featureCacheHit()))
            .setTimings(
                Timings.newBuilder()
                    .setQueueSeconds(t.queue())
                    .setMediaDecodeSeconds(t.mediaDecode())
                    .setEncodeSeconds(t.encode())
                    .setPrefillSeconds(t.prefill())
                    .setDecodeSeconds(t.decode())
                    .setTotalSeconds(t.total())
                    .setTimeToFirstTokenSeconds(t.timeToFirstToken()));
    addCoordinates(a.coordinates(), clipStart, b::addCoordinates);
    if (tokenIds) {
      for (int id : a.tokenIds()) {
        b.addTokenIds(id);
      }
    }
    if (logprobs) {
      for (float lp : a.logprobs()) {
        b.addLogprobs(lp);
      }
    }
    return b.build();
  }

  /** Whole coordinate groups as API messages (a stray bin has none). */
  public static List<Coordinate> coordinates(List<AnswerCoordinate> groups, double clipStart) {
    List<Coordinate> out = new java.util.ArrayList<>(groups.size());
    addCoordinates(groups, clipStart, out::add);
    return out;
  }

  private static void addCoordinates(
      List<AnswerCoordinate> groups,
      double clipStart,
      java.util.function.Consumer<Coordinate> out) {
    for (AnswerCoordinate g : groups) {
      Coordinate.Builder c = Coordinate.newBuilder().setTextOffsetBytes(g.textOffsetBytes());
      Piece p = g.group();
      if (p instanceof Timestamp ts) {
        out.accept(c.setTimestamp(timestamp(ts, clipStart)).build());
      } else if (p instanceof Span s) {
        out.accept(c.setSpan(span(s, clipStart)).build());
      } else if (p instanceof Box box) {
        out.accept(c.setBox(box(box)).build());
      } else if (p instanceof TimedBox tb) {
        out.accept(c.setTimedBox(timedBox(tb, clipStart)).build());
      }
      // a stray bin belongs to no group: the API has no message for it (its text is in the answer)
    }
  }

  private static FinishReason finish(FinalAnswer.Finish f) {
    return switch (f) {
      case STOP -> FinishReason.FINISH_REASON_STOP;
      case LENGTH -> FinishReason.FINISH_REASON_LENGTH;
      case CONTEXT_LENGTH -> FinishReason.FINISH_REASON_CONTEXT_LENGTH;
      case STOP_STRING -> FinishReason.FINISH_REASON_STOP_STRING;
    };
  }

  private static dev.llavast.api.v1.Timestamp timestamp(Timestamp t, double clipStart) {
    double seconds = Double.isNaN(t.seconds()) ? 0 : t.seconds();
    return dev.llavast.api.v1.Timestamp.newBuilder()
        .setSeconds(seconds)
        .setMediaSeconds(clipStart + seconds)
        .setNormalized(t.normalized())
        .setBin(t.bin())
        .build();
  }

  private static dev.llavast.api.v1.Span span(Span s, double clipStart) {
    return dev.llavast.api.v1.Span.newBuilder()
        .setStart(timestamp(s.start(), clipStart))
        .setEnd(timestamp(s.end(), clipStart))
        .build();
  }

  private static BoxCoordinate coord(dev.llavast.models.coords.Coordinate c) {
    return BoxCoordinate.newBuilder()
        .setPx(c.pixels())
        .setNormalized(c.normalized())
        .setBin(c.bin())
        .build();
  }

  private static dev.llavast.api.v1.Box box(Box b) {
    return dev.llavast.api.v1.Box.newBuilder()
        .setX1(coord(b.x1()))
        .setY1(coord(b.y1()))
        .setX2(coord(b.x2()))
        .setY2(coord(b.y2()))
        .build();
  }

  private static dev.llavast.api.v1.TimedBox timedBox(TimedBox tb, double clipStart) {
    return dev.llavast.api.v1.TimedBox.newBuilder()
        .setTime(timestamp(tb.time(), clipStart))
        .setBox(box(tb.box()))
        .setSampledFrame(tb.time().bin())
        .build();
  }

  private static TaskResult result(FinalAnswer a, double clipStart) {
    dev.llavast.models.coords.TaskResult r = a.result();
    Task task = a.task();
    TaskResult.Builder b =
        TaskResult.newBuilder()
            .setTask(
                task == Task.FREE_FORM
                    ? dev.llavast.api.v1.Task.TASK_FREE_FORM
                    : dev.llavast.api.v1.Task.valueOf("TASK_" + task.name()));
    if (r.span() != null) {
      b.setSpan(span(r.span(), clipStart));
    }
    for (TimedBox tb : r.timedBoxes()) {
      b.addTimedBoxes(timedBox(tb, clipStart));
    }
    if (r.endTime() != null) {
      b.setEndTime(timestamp(r.endTime(), clipStart));
    }
    if (r.caption() != null) {
      b.setCaption(r.caption());
    } else if (task == Task.REG || task == Task.TR) {
      b.setCaption(r.text().trim());
    }
    if (task == Task.DGC) {
      for (Box box : r.boxes()) {
        b.addBoxes(box(box));
      }
    } else if (r.box() != null) {
      b.addBoxes(box(r.box()));
    }
    if (task == Task.DVC) {
      for (Span s : r.spans()) {
        b.addSpans(span(s, clipStart));
      }
    }
    return b.build();
  }
}

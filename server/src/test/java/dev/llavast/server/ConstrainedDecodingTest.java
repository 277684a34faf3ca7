package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.coords.Box;
import dev.llavast.models.coords.Piece;
import dev.llavast.models.coords.Span;
import dev.llavast.models.coords.Task;
import dev.llavast.models.coords.TaskResult;
import dev.llavast.models.coords.TimedBox;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.AnswerListener;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.FinalAnswer;
import dev.llavast.server.generation.GenerationJob;
import dev.llavast.server.generation.Question;
import dev.llavast.server.generation.Sampling;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.media.MediaTestFiles;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.Tenant;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coordinate-constrained decoding through the engine on the tiny random-weight checkpoint, whose
 * answers at temperature 1 are close to uniform over text, brackets and the 300 coordinate ids: a
 * hard test for a grammar. Constrained, every answer is parseable and shaped; unconstrained, most
 * are not; and an unconstrained greedy request gets the same tokens whether or not constrained
 * requests share its batch.
 */
@Timeout(600)
class ConstrainedDecodingTest {
  static final int PER_SHAPE = 12;
  static final int MAX_NEW = 40;

  @TempDir static Path dir;
  static Engine engine;
  static StoredMedia video;
  static StoredMedia image;

  @BeforeAll
  static void start() throws Exception {
    Path model = E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 5);
    engine =
        Engine.start(E2eClient.config(model, "cpu", 256, 64 << 20, 0, 32).engine(), Metrics.noop());
    Path mp4 = MediaTestFiles.movingSquare(dir.resolve("sq.mp4"), 64, 48, 30, 10);
    video =
        engine
            .storeWhole(
                Tenant.OPEN,
                DecodedMedia.Kind.VIDEO,
                List.of(ByteBuffer.wrap(Files.readAllBytes(mp4))),
                0)
            .get(60, TimeUnit.SECONDS);
    image =
        engine
            .storeWhole(
                Tenant.OPEN,
                DecodedMedia.Kind.IMAGE,
                List.of(ByteBuffer.wrap(MediaTestFiles.png(80, 60, 10, 200, 30))),
                0)
            .get(60, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (engine != null) {
      engine.close();
    }
  }

  static Sampling sampling(float temperature, long seed, int maxNew, Sampling.Constraints c) {
    return new Sampling(temperature, 0f, 0, 0f, seed, maxNew, List.of(), false, false, c);
  }

  static CompletableFuture<FinalAnswer> ask(StoredMedia media, Task task, Sampling sampling) {
    CompletableFuture<FinalAnswer> done = new CompletableFuture<>();
    engine.start(
        new GenerationJob(
            "",
            GenerationJob.Media.of(media),
            null,
            Question.text("Where is the square?"),
            task,
            sampling,
            0,
            null,
            null,
            List.of()),
        new AnswerListener() {
          @Override
          public void onFinish(FinalAnswer answer) {
            done.complete(answer);
          }

          @Override
          public void onError(ApiException error) {
            done.completeExceptionally(error);
          }
        });
    return done;
  }

  /**
   * Every coordinate id of the answer sits in a whole group, and every group is geometrically
   * valid.
   */
  static boolean parseable(FinalAnswer a) {
    for (Piece p : a.pieces()) {
      if (p instanceof Piece.Bin) {
        return false;
      }
      if (p instanceof Span s && s.end().bin() < s.start().bin()) {
        return false;
      }
      if (p instanceof Box b && !valid(b)) {
        return false;
      }
      if (p instanceof TimedBox tb && !valid(tb.box())) {
        return false;
      }
    }
    return true;
  }

  private static boolean valid(Box b) {
    int[] bins = b.bins();
    return bins[2] >= bins[0] && bins[3] >= bins[1];
  }

  /** The task result holds what the task's answer is for. */
  static boolean shaped(FinalAnswer a) {
    TaskResult r = a.result();
    return switch (a.task()) {
      case TVG -> r.span() != null;
      case REC -> r.box() != null;
      case DGC -> !r.boxes().isEmpty();
      case DVC -> !r.spans().isEmpty();
      case STVG ->
          r.span() != null
              && !r.timedBoxes().isEmpty()
              && r.timedBoxes().stream()
                  .allMatch(
                      tb ->
                          tb.time().bin() >= r.span().start().bin()
                              && tb.time().bin() <= r.span().end().bin());
      case SVG -> !r.timedBoxes().isEmpty();
      case ELC -> r.endTime() != null && !r.timedBoxes().isEmpty();
      default -> true;
    };
  }

  /**
   * {@code PER_SHAPE} answers of {@code task} at temperature 1 with the given constraint, all at
   * once.
   */
  static List<FinalAnswer> answers(Task task, Sampling.Constraints c, long seedBase)
      throws Exception {
    StoredMedia media = task == Task.REC || task == Task.DGC ? image : video;
    List<CompletableFuture<FinalAnswer>> all = new ArrayList<>();
    for (int i = 0; i < PER_SHAPE; i++) {
      all.add(ask(media, task, sampling(1f, seedBase + i, MAX_NEW, c)));
    }
    List<FinalAnswer> out = new ArrayList<>();
    for (CompletableFuture<FinalAnswer> f : all) {
      out.add(f.get(5, TimeUnit.MINUTES));
    }
    return out;
  }

  @Test
  void everyShapedAnswerIsParseableAndShapedAndUnconstrainedOnesMostlyAreNot() throws Exception {
    Task[] shapes = {Task.TVG, Task.REC, Task.DGC, Task.DVC, Task.STVG, Task.SVG, Task.ELC};
    int unconstrainedOk = 0;
    int total = 0;
    for (Task task : shapes) {
      for (FinalAnswer a : answers(task, Sampling.Constraints.TASK_SHAPE, 1000)) {
        assertThat(parseable(a)).as("%s constrained: %s", task, a.text()).isTrue();
        assertThat(shaped(a))
            .as("%s constrained, result %s: %s", task, a.result(), a.text())
            .isTrue();
        total++;
      }
      for (FinalAnswer a : answers(task, Sampling.Constraints.OFF, 1000)) {
        unconstrainedOk += parseable(a) && shaped(a) ? 1 : 0;
      }
    }
    assertThat(unconstrainedOk)
        .as("unconstrained answers that happen to be parseable and shaped")
        .isLessThan(total);
  }

  @Test
  void coordinatesModeOnAnImageGeneratesNoTimeAndOnlyWholeGroups() throws Exception {
    for (FinalAnswer a : answers(Task.FREE_FORM, Sampling.Constraints.COORDINATES, 2000)) {
      assertThat(parseable(a)).as(a.text()).isTrue();
    }
    for (int i = 0; i < PER_SHAPE; i++) {
      FinalAnswer a =
          ask(
                  image,
                  Task.FREE_FORM,
                  sampling(1f, 3000 + i, MAX_NEW, Sampling.Constraints.COORDINATES))
              .get(5, TimeUnit.MINUTES);
      assertThat(parseable(a)).as(a.text()).isTrue();
      assertThat(a.text()).doesNotContain("<TEMP-");
    }
  }

  @Test
  void unconstrainedGreedyTokensAreTheSameAloneAndBesideConstrainedRequests() throws Exception {
    List<int[]> alone = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      alone.add(
          ask(video, Task.FREE_FORM, sampling(0f, 0, 24, Sampling.Constraints.OFF))
              .get(5, TimeUnit.MINUTES)
              .tokenIds());
    }
    List<CompletableFuture<FinalAnswer>> mixed = new ArrayList<>();
    List<CompletableFuture<FinalAnswer>> plain = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      mixed.add(
          ask(video, Task.STVG, sampling(1f, 40 + i, MAX_NEW, Sampling.Constraints.TASK_SHAPE)));
      plain.add(ask(video, Task.FREE_FORM, sampling(0f, 0, 24, Sampling.Constraints.OFF)));
      mixed.add(ask(video, Task.TVG, sampling(0f, 0, MAX_NEW, Sampling.Constraints.TASK_SHAPE)));
    }
    for (int i = 0; i < 3; i++) {
      assertThat(plain.get(i).get(5, TimeUnit.MINUTES).tokenIds()).isEqualTo(alone.get(i));
    }
    for (CompletableFuture<FinalAnswer> f : mixed) {
      assertThat(parseable(f.get(5, TimeUnit.MINUTES))).isTrue();
    }
  }

  @Test
  void aShapeThatCannotBeHonouredIsRefusedWithItsField() throws Exception {
    CompletableFuture<FinalAnswer> imageTvg =
        ask(image, Task.TVG, sampling(0f, 0, 40, Sampling.Constraints.TASK_SHAPE));
    assertThat(imageTvg)
        .failsWithin(1, TimeUnit.MINUTES)
        .withThrowableThat()
        .havingCause()
        .isInstanceOfSatisfying(
            ApiException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.INVALID_REQUEST);
              assertThat(e.violations())
                  .singleElement()
                  .satisfies(
                      v -> {
                        assertThat(v.field()).isEqualTo("sampling.constraints");
                        assertThat(v.description()).contains("needs a video");
                      });
            });
    CompletableFuture<FinalAnswer> tooShort =
        ask(video, Task.STVG, sampling(0f, 0, 5, Sampling.Constraints.TASK_SHAPE));
    assertThat(tooShort)
        .failsWithin(1, TimeUnit.MINUTES)
        .withThrowableThat()
        .havingCause()
        .isInstanceOfSatisfying(
            ApiException.class,
            e -> assertThat(e.violations().get(0).description()).contains("at least"));
    CompletableFuture<FinalAnswer> freeForm =
        ask(video, Task.FREE_FORM, sampling(0f, 0, 40, Sampling.Constraints.TASK_SHAPE));
    assertThat(freeForm)
        .failsWithin(1, TimeUnit.MINUTES)
        .withThrowableThat()
        .havingCause()
        .isInstanceOfSatisfying(
            ApiException.class,
            e -> assertThat(e.violations().get(0).description()).contains("needs a task"));
  }
}

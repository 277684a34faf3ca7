package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Cancel and deadline in every state; the other requests and shared futures are untouched. */
class CancellationTest extends SchedulerTestBase {

  enum State {
    PENDING_PROMPT,
    WAITING,
    PREFILLING,
    DECODING
  }

  enum Mode {
    CANCEL,
    DEADLINE
  }

  @ParameterizedTest
  @EnumSource(State.class)
  void cancelTakesEffectWithinOneIteration(State state) {
    endIn(state, Mode.CANCEL);
  }

  @ParameterizedTest
  @EnumSource(State.class)
  void deadlineTakesEffectWithinOneIteration(State state) {
    endIn(state, Mode.DEADLINE);
  }

  private void endIn(State state, Mode mode) {
    startManual(1, 512, b -> b.maxBatchTokens(8).maxRunningSequences(1));
    Duration timeout = mode == Mode.DEADLINE ? Duration.ofMillis(10) : null;
    RecordingSink blocker = sink("blocker");
    RecordingSink target = sink("target");
    CompletableFuture<PromptInput> promptFuture = new CompletableFuture<>();
    RequestHandle h;
    switch (state) {
      case PENDING_PROMPT -> {
        submit("blocker", text(1, 4), 12, blocker);
        h =
            scheduler.submit(
                GenerationRequest.pending(
                    "target", promptFuture, 4, null, SamplingParams.greedy(5), 0, timeout),
                target);
        step();
      }
      case WAITING -> {
        submit("blocker", text(1, 4), 12, blocker);
        step();
        h =
            scheduler.submit(
                GenerationRequest.of(
                    "target", text(2, 4), null, SamplingParams.greedy(5), 0, timeout),
                target);
        step();
      }
      case PREFILLING -> {
        h =
            scheduler.submit(
                GenerationRequest.of(
                    "target", text(2, 40), null, SamplingParams.greedy(5), 0, timeout),
                target);
        submit("blocker", text(1, 4), 12, blocker);
        step();
      }
      case DECODING -> {
        h =
            scheduler.submit(
                GenerationRequest.of(
                    "target", text(2, 4), null, SamplingParams.greedy(30), 0, timeout),
                target);
        submit("blocker", text(1, 4), 12, blocker);
        step();
        step();
      }
      default -> throw new AssertionError(state);
    }
    assertThat(h.status().name()).isEqualTo(state.name());
    BlockManager bm = scheduler.worker(0).blockManager();
    int usedBefore = bm.usedCount();
    int targetBlocks = ((Sequence) h).kv.size();
    if (mode == Mode.CANCEL) {
      assertThat(h.cancel()).isTrue();
    } else {
      ticker.advance(Duration.ofMillis(11));
    }
    step();
    assertThat(h.status()).isEqualTo(RequestStatus.FAILED);
    assertThat(target.terminals()).isEqualTo(1);
    assertThat(target.error())
        .isInstanceOf(
            mode == Mode.CANCEL
                ? RequestCancelledException.class
                : DeadlineExceededException.class);
    assertThat(target.error().getMessage()).contains("target").contains(state.name());
    assertThat(h.cancel()).isFalse();
    if (state == State.PREFILLING || state == State.DECODING) {
      // its blocks were freed in that iteration (the blocker, admitted now, took new ones)
      assertThat(targetBlocks).isPositive();
      assertThat(bm.usedCount()).isLessThanOrEqualTo(usedBefore - targetBlocks + 2);
    }
    if (state == State.PENDING_PROMPT) {
      assertThat(promptFuture).isNotDone();
      promptFuture.complete(text(2, 4)); // arrives late: ignored
    }
    runUntilIdle(100);
    assertThat(blocker.tokens())
        .isEqualTo(FakeExecutor.expected(text(1, 4), SamplingParams.greedy(12)));
    assertThat(target.terminals()).isEqualTo(1);
    assertThat(promptFuture.isCancelled()).isFalse();
    if (mode == Mode.DEADLINE) {
      assertThat(
              target.usage().queueNanos()
                  + target.usage().prefillNanos()
                  + target.usage().decodeNanos())
          .isEqualTo(Duration.ofMillis(11).toNanos());
    }
  }

  @Test
  void cancellingOneWaiterOfASharedEncodeLeavesTheEncodeToTheOthers() {
    startManual(1, 512, b -> {});
    CompletableFuture<MediaFeatures> features = scheduler.encode(new FakeMedia("vid-A", 16));
    CompletableFuture<PromptInput> prompt =
        features.thenApply(f -> PrefixCacheTest.videoPrompt(f.mediaKey(), 1, 6));
    RecordingSink r1 = sink("r1");
    RecordingSink r2 = sink("r2");
    RequestHandle h1 = submitPending("r1", prompt, 28, 4, r1);
    submitPending("r2", prompt, 28, 4, r2);
    assertThat(h1.status()).isEqualTo(RequestStatus.PENDING_PROMPT);
    assertThat(scheduler.cancel("r1")).isTrue();
    assertThat(scheduler.cancel("nope")).isFalse();
    step(); // drops r1, then runs the encode
    assertThat(r1.error()).isInstanceOf(RequestCancelledException.class);
    assertThat(features).isCompleted();
    assertThat(executors.get(0).encodes.get()).isEqualTo(1);
    runUntilIdle(50);
    assertThat(r2.tokens())
        .isEqualTo(
            FakeExecutor.expected(
                PrefixCacheTest.videoPrompt("vid-A", 1, 6), SamplingParams.greedy(4)));
    assertThat(r1.tokens()).isEmpty();
    assertThat(r1.starts()).isZero();
  }

  @Test
  void cancelledWaitingRequestReleasesItsAdmissionSlot() {
    startManual(1, 512, b -> b.maxRunningSequences(1).maxQueuedRequests(1));
    RecordingSink a = sink("a");
    RecordingSink b = sink("b");
    submit("a", text(1, 4), 5, a);
    step();
    RequestHandle hb = submit("b", text(2, 4), 5, b);
    assertThat(scheduler.stats().queuedRequests()).isEqualTo(1);
    hb.cancel();
    step();
    assertThat(scheduler.stats().queuedRequests()).isZero();
    assertThat(scheduler.stats().queuedPromptTokens()).isZero();
    runUntilIdle(50);
    assertThat(b.usage()).isEqualTo(new Usage(4, 0, 0, 0, 0, 0, 0));
    assertThat(List.of(a.reason())).containsExactly(FinishReason.LENGTH);
  }
}

package dev.llavast.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Admission control at submit: never-fit, overload by count and tokens, pending prompts. */
class AdmissionTest extends SchedulerTestBase {

  @Test
  void promptPlusMaxNewTokensBeyondTheContextIsRejectedAtSubmit() {
    startManual(1, 64, b -> {});
    RecordingSink never = new RecordingSink("never");
    assertThatThrownBy(() -> submit("x", text(1, 60), 5, never))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("prompt of 60 tokens + maxNewTokens 5")
        .hasMessageContaining("context limit 64");
    assertThat(never.starts() + never.terminals()).isZero();
    RecordingSink ok = sink("ok");
    submit("y", text(1, 60), 4, ok);
    runUntilIdle(20);
    assertThat(ok.reason()).isEqualTo(FinishReason.LENGTH);
  }

  @Test
  void requestNeedingMoreBlocksThanThePoolIsRejectedAtSubmit() {
    // 8 blocks of 4 = 32 slots; 20 + 13 tokens need 32 slots (the last token is never fed).
    startManual(1, 512, b -> b.kvBlocks(8));
    assertThatThrownBy(() -> submit("x", text(1, 20), 14, new RecordingSink("never")))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("KV pool 8 blocks (32 token slots)");
    RecordingSink ok = sink("ok");
    submit("y", text(1, 20), 13, ok);
    runUntilIdle(50);
    assertThat(ok.tokens())
        .isEqualTo(FakeExecutor.expected(text(1, 20), SamplingParams.greedy(13)));
  }

  @Test
  void fullQueueByCountRejectsAtOnceWithARetryHint() {
    startManual(1, 512, b -> b.maxQueuedRequests(2).retryAfter(Duration.ofMillis(250)));
    submit("a", text(1, 4), 2, sink("a"));
    submit("b", text(2, 4), 2, sink("b"));
    assertThatThrownBy(() -> submit("c", text(3, 4), 2, new RecordingSink("c")))
        .isInstanceOfSatisfying(
            OverloadedException.class,
            e -> {
              assertThat(e.retryAfter()).isEqualTo(Duration.ofMillis(250));
              assertThat(e.reason()).isEqualTo(SchedulerError.QUEUE_FULL);
            })
        .hasMessageContaining("2 requests queued, limit 2");
    step(); // both admitted: the queue is empty again
    assertThat(scheduler.stats().queuedRequests()).isZero();
    submit("d", text(4, 4), 2, sink("d"));
    runUntilIdle(20);
  }

  @Test
  void fullQueueByPromptTokensRejects() {
    startManual(1, 512, b -> b.maxQueuedPromptTokens(100));
    submit("a", text(1, 60), 2, sink("a"));
    assertThatThrownBy(() -> submit("b", text(2, 50), 2, new RecordingSink("b")))
        .isInstanceOf(OverloadedException.class)
        .hasMessageContaining("60 prompt tokens queued + 50");
    submit("c", text(3, 40), 2, sink("c"));
    assertThat(scheduler.stats().queuedPromptTokens()).isEqualTo(100);
    assertThatThrownBy(() -> submit("d", text(4, 101), 2, new RecordingSink("d")))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("more than the queue may ever hold (100)");
    runUntilIdle(20);
  }

  @Test
  void duplicateRequestIdIsRejected() {
    startManual(1, 512, b -> {});
    submit("a", text(1, 4), 2, sink("a"));
    RecordingSink dup = new RecordingSink("dup");
    assertThatThrownBy(() -> submit("a", text(1, 4), 2, dup))
        .isInstanceOfSatisfying(
            DuplicateRequestException.class,
            e -> {
              assertThat(e.requestId()).isEqualTo("a");
              assertThat(e.reason()).isEqualTo(SchedulerError.DUPLICATE_REQUEST_ID);
              assertThat(e).hasMessage("request id a is already in flight");
            })
        .isNotInstanceOf(InvalidRequestException.class);
    assertThat(scheduler.stats().queuedRequests()).isEqualTo(1);
    runUntilIdle(20);
    submit("a", text(1, 4), 2, sink("again")); // fine once the first ended
    runUntilIdle(20);
  }

  @Test
  void pendingPromptHoldsItsSlotAndIsRecountedWhenItArrives() {
    startManual(1, 512, b -> b.maxQueuedRequests(2).maxRunningSequences(1));
    RecordingSink blocker = sink("blocker");
    submit("blocker", text(1, 4), 6, blocker);
    step();
    CompletableFuture<PromptInput> f = new CompletableFuture<>();
    RecordingSink p = sink("p");
    RequestHandle hp = submitPending("p", f, 10, 3, p);
    submit("w", text(3, 4), 2, sink("w"));
    assertThatThrownBy(() -> submit("x", text(2, 4), 2, new RecordingSink("x")))
        .isInstanceOf(OverloadedException.class);
    step();
    assertThat(hp.status()).isEqualTo(RequestStatus.PENDING_PROMPT);
    assertThat(scheduler.stats().queuedPromptTokens()).isEqualTo(14);
    assertThat(scheduler.stats().workers().get(0).pendingPrompt()).isEqualTo(1);
    f.complete(text(5, 20));
    step();
    assertThat(hp.status()).isEqualTo(RequestStatus.WAITING);
    assertThat(scheduler.stats().queuedPromptTokens()).isEqualTo(24);
    runUntilIdle(50);
    assertThat(p.tokens()).isEqualTo(FakeExecutor.expected(text(5, 20), SamplingParams.greedy(3)));
    assertThat(p.usage().promptTokens()).isEqualTo(20);
  }

  @Test
  void pendingPromptThatArrivesTooLongFailsAsInvalid() {
    startManual(1, 64, b -> {});
    CompletableFuture<PromptInput> f = new CompletableFuture<>();
    RecordingSink p = sink("p");
    submitPending("p", f, 10, 5, p);
    f.complete(text(1, 70));
    step();
    assertThat(p.error())
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("prompt of 70 tokens");
  }

  @Test
  void failedPromptFutureFailsTheRequestWithItsCause() {
    startManual(1, 512, b -> {});
    CompletableFuture<PromptInput> f = new CompletableFuture<>();
    RecordingSink p = sink("p");
    submitPending("p", f, 10, 5, p);
    step();
    IOException cause = new IOException("corrupt video");
    f.completeExceptionally(cause);
    step();
    assertThat(p.error()).isInstanceOf(PromptFailedException.class).hasCause(cause);
    assertThat(p.usage().promptTokens()).isZero();
  }
}

package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.ClipRange;
import dev.llavast.api.v1.SessionState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SessionStoreTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final SessionStore store = new SessionStore(2, Duration.ofSeconds(60), Duration.ofHours(1), now::get);

  private static void assertError(Runnable call, Status.Code code, String reason) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::run);
    assertThat(e).as("expected " + code).isNotNull();
    assertThat(e.getStatus().getCode()).isEqualTo(code);
    assertThat(RequestValidatorTest.unpack(e, ErrorInfo.class).getReason()).isEqualTo(reason);
  }

  @Test
  void boundedCountAndLifecycle() {
    SessionStore.Session a = store.create("sha256:a", ClipRange.getDefaultInstance(), "", 0);
    store.create("sha256:b", ClipRange.getDefaultInstance(), "", 0);
    assertError(() -> store.create("sha256:c", ClipRange.getDefaultInstance(), "", 0),
        Status.Code.RESOURCE_EXHAUSTED, "TOO_MANY_SESSIONS");
    assertThat(store.close(a.id).getState()).isEqualTo(SessionState.SESSION_STATE_CLOSED);
    assertThat(store.close(a.id).getState()).as("closing twice is fine").isEqualTo(SessionState.SESSION_STATE_CLOSED);
    store.create("sha256:c", ClipRange.getDefaultInstance(), "", 0); // a slot was freed
    assertError(() -> store.beginAsk(a.id), Status.Code.FAILED_PRECONDITION, "SESSION_CLOSED");
    assertError(() -> store.open("ses_unknown"), Status.Code.NOT_FOUND, "SESSION_NOT_FOUND");
  }

  @Test
  void idleSessionsExpireButNotWhileAnswering() {
    SessionStore.Session s = store.create("sha256:a", ClipRange.getDefaultInstance(), "", 30);
    assertThat(s.info().getExpiresInSeconds()).isEqualTo(30.0);
    try (SessionStore.AskTurn turn = store.beginAsk(s.id)) {
      now.addAndGet(Duration.ofSeconds(45).toNanos()); // a long answer
      store.expire();
      assertThat(s.info().getState()).isEqualTo(SessionState.SESSION_STATE_OPEN);
      turn.commit(new SessionStore.Turn("When?", new int[] {7, 8}, 2600));
    }
    now.addAndGet(Duration.ofSeconds(29).toNanos());
    assertThat(store.open(s.id).info().getTurns()).isEqualTo(1);
    now.addAndGet(Duration.ofSeconds(31).toNanos());
    assertError(() -> store.beginAsk(s.id), Status.Code.FAILED_PRECONDITION, "SESSION_CLOSED");
    assertThat(store.find(s.id).info().getState()).isEqualTo(SessionState.SESSION_STATE_EXPIRED);
    now.addAndGet(SessionStore.TOMBSTONE.toNanos() + 1);
    assertError(() -> store.find(s.id), Status.Code.NOT_FOUND, "SESSION_NOT_FOUND");
  }

  @Test
  void oneAskAtATime() {
    SessionStore.Session s = store.create("sha256:a", ClipRange.getDefaultInstance(), "", 0);
    SessionStore.AskTurn first = store.beginAsk(s.id);
    assertError(() -> store.beginAsk(s.id), Status.Code.ABORTED, "SESSION_BUSY");
    first.commit(new SessionStore.Turn("q1", new int[] {1}, 2550));
    first.close();
    first.close(); // idempotent
    try (SessionStore.AskTurn second = store.beginAsk(s.id)) {
      second.commit(new SessionStore.Turn("q2", new int[] {2}, 2570));
    }
    assertThat(s.turns()).extracting(SessionStore.Turn::question).containsExactly("q1", "q2");
    assertThat(s.info().getContextTokens()).isEqualTo(2570);
  }

  @Test
  void ttlAboveTheMaximumIsAFieldViolation() {
    assertError(() -> store.create("sha256:a", ClipRange.getDefaultInstance(), "", 7200), Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
  }
}

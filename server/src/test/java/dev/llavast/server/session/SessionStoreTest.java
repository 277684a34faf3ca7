package dev.llavast.server.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.tenancy.Tenant;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SessionStoreTest {
  private static final Tenant T = Tenant.OPEN;

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final SessionStore store =
      new SessionStore(2, Duration.ofSeconds(60), Duration.ofHours(1), now::get);

  private static void assertError(Runnable call, Reason reason) {
    ApiException e = catchThrowableOfType(ApiException.class, call::run);
    assertThat(e).as("expected " + reason).isNotNull();
    assertThat(e.reason()).isEqualTo(reason);
  }

  @Test
  void boundedCountAndLifecycle() {
    SessionStore.Session a = store.create(T, "sha256:a", null, "", 0);
    store.create(T, "sha256:b", null, "", 0);
    assertError(() -> store.create(T, "sha256:c", null, "", 0), Reason.TOO_MANY_SESSIONS);
    assertThat(store.close(T, a.id).state()).isEqualTo(SessionStore.State.CLOSED);
    assertThat(store.close(T, a.id).state())
        .as("closing twice is fine")
        .isEqualTo(SessionStore.State.CLOSED);
    store.create(T, "sha256:c", null, "", 0); // a slot was freed
    assertError(() -> store.beginAsk(T, a.id), Reason.SESSION_CLOSED);
    assertError(() -> store.open(T, "ses_unknown"), Reason.SESSION_NOT_FOUND);
  }

  @Test
  void idleSessionsExpireButNotWhileAnswering() {
    SessionStore.Session s = store.create(T, "sha256:a", null, "", 30);
    assertThat(s.info().expiresInSeconds()).isEqualTo(30.0);
    try (SessionStore.AskTurn turn = store.beginAsk(T, s.id)) {
      now.addAndGet(Duration.ofSeconds(45).toNanos()); // a long answer
      store.expire();
      assertThat(s.info().state()).isEqualTo(SessionStore.State.OPEN);
      turn.commit(new SessionStore.Turn("When?", new int[] {7, 8}, 2600));
    }
    now.addAndGet(Duration.ofSeconds(29).toNanos());
    assertThat(store.open(T, s.id).info().turns()).isEqualTo(1);
    now.addAndGet(Duration.ofSeconds(31).toNanos());
    assertError(() -> store.beginAsk(T, s.id), Reason.SESSION_CLOSED);
    assertThat(store.find(T, s.id).info().state()).isEqualTo(SessionStore.State.EXPIRED);
    now.addAndGet(SessionStore.TOMBSTONE.toNanos() + 1);
    assertError(() -> store.find(T, s.id), Reason.SESSION_NOT_FOUND);
  }

  @Test
  void oneAskAtATime() {
    SessionStore.Session s = store.create(T, "sha256:a", null, "", 0);
    SessionStore.AskTurn first = store.beginAsk(T, s.id);
    assertError(() -> store.beginAsk(T, s.id), Reason.SESSION_BUSY);
    first.commit(new SessionStore.Turn("q1", new int[] {1}, 2550));
    first.close();
    first.close(); // idempotent
    try (SessionStore.AskTurn second = store.beginAsk(T, s.id)) {
      second.commit(new SessionStore.Turn("q2", new int[] {2}, 2570));
    }
    assertThat(s.turns()).extracting(SessionStore.Turn::question).containsExactly("q1", "q2");
    assertThat(s.info().contextTokens()).isEqualTo(2570);
  }

  @Test
  void ttlAboveTheMaximumIsAFieldViolation() {
    assertError(() -> store.create(T, "sha256:a", null, "", 7200), Reason.INVALID_REQUEST);
  }

  @Test
  void anotherTenantsSessionIsUnknown() {
    SessionStore.Session a = store.create(new Tenant("acme"), "sha256:a", null, "", 0);
    assertError(() -> store.open(new Tenant("globex"), a.id), Reason.SESSION_NOT_FOUND);
    assertError(() -> store.close(T, a.id), Reason.SESSION_NOT_FOUND);
    assertThat(store.open(new Tenant("acme"), a.id)).isSameAs(a);
  }
}

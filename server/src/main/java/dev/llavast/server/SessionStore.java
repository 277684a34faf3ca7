package dev.llavast.server;

import com.google.rpc.Code;
import dev.llavast.api.v1.ClipRange;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionState;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Open conversations, each bound to one media item: a bounded number of sessions, each expiring
 * after its idle TTL. A session runs one {@code Ask} at a time: {@link #beginAsk} hands out an
 * exclusive {@link AskTurn}; a second concurrent ask is rejected with ABORTED / SESSION_BUSY rather
 * than interleaved.
 *
 * <p>Thread-safe; any thread. Time comes from an injectable nanosecond clock.
 */
final class SessionStore {
  /** Closed and expired sessions are remembered this long so callers get SESSION_CLOSED, not NOT_FOUND. */
  static final Duration TOMBSTONE = Duration.ofMinutes(10);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final int maxSessions;
  private final Duration defaultTtl;
  private final Duration maxTtl;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();

  SessionStore(int maxSessions, Duration defaultTtl, Duration maxTtl, LongSupplier nanoClock) {
    this.maxSessions = maxSessions;
    this.defaultTtl = defaultTtl;
    this.maxTtl = maxTtl;
    this.nanoClock = nanoClock;
  }

  /**
   * Opens a session.
   *
   * @param ttlSeconds idle TTL; 0 means the default
   * @throws io.grpc.StatusRuntimeException RESOURCE_EXHAUSTED / TOO_MANY_SESSIONS at the limit
   */
  Session create(String mediaId, ClipRange clip, String systemPrompt, double ttlSeconds) {
    expire();
    Duration ttl = ttlSeconds <= 0 ? defaultTtl : Duration.ofMillis(Math.round(ttlSeconds * 1000));
    if (ttl.compareTo(maxTtl) > 0) {
      throw ApiErrors.invalidArgument(List.of(new ApiErrors.FieldViolation("ttl_seconds",
          "must be at most " + maxTtl.toSeconds() + " s, got " + ttlSeconds)));
    }
    synchronized (this) {
      if (openCount() >= maxSessions) {
        throw ApiErrors.of(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_TOO_MANY_SESSIONS,
            "the server holds its limit of " + maxSessions + " open sessions; close one or retry later");
      }
      byte[] raw = new byte[16];
      RANDOM.nextBytes(raw);
      Session s = new Session("ses_" + HexFormat.of().formatHex(raw), mediaId, clip, systemPrompt, ttl);
      sessions.put(s.id, s);
      return s;
    }
  }

  /**
   * The open session {@code id}.
   *
   * @throws io.grpc.StatusRuntimeException NOT_FOUND / SESSION_NOT_FOUND if unknown,
   *     FAILED_PRECONDITION / SESSION_CLOSED if closed or expired
   */
  Session open(String id) {
    Session s = find(id);
    synchronized (s) {
      if (s.state != SessionState.SESSION_STATE_OPEN) {
        throw ApiErrors.of(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_SESSION_CLOSED,
            "session " + id + " is " + (s.state == SessionState.SESSION_STATE_EXPIRED ? "expired" : "closed"));
      }
    }
    return s;
  }

  /** Any session, open or not. NOT_FOUND / SESSION_NOT_FOUND if unknown. */
  Session find(String id) {
    expire();
    Session s = sessions.get(id);
    if (s == null) {
      throw ApiErrors.of(Code.NOT_FOUND, ErrorReason.ERROR_REASON_SESSION_NOT_FOUND, "no session with id '" + id + "'");
    }
    return s;
  }

  /**
   * Starts an Ask on an open session.
   *
   * @throws io.grpc.StatusRuntimeException ABORTED / SESSION_BUSY if another Ask runs on it
   */
  AskTurn beginAsk(String id) {
    Session s = open(id);
    if (!s.busy.compareAndSet(false, true)) {
      throw ApiErrors.of(Code.ABORTED, ErrorReason.ERROR_REASON_SESSION_BUSY,
          "session " + id + " is answering another question; ask again when it finishes");
    }
    s.touch();
    return new AskTurn(s);
  }

  /** Closes a session (idempotent) and returns its final info. */
  SessionInfo close(String id) {
    Session s = find(id);
    synchronized (s) {
      if (s.state == SessionState.SESSION_STATE_OPEN) {
        s.state = SessionState.SESSION_STATE_CLOSED;
        s.endedAtNanos = nanoClock.getAsLong();
      }
    }
    return s.info();
  }

  /** Open sessions. */
  int openCount() {
    int n = 0;
    for (Session s : sessions.values()) {
      if (s.state == SessionState.SESSION_STATE_OPEN) {
        n++;
      }
    }
    return n;
  }

  /** Marks idle sessions expired and forgets tombstones past {@link #TOMBSTONE}. Cheap; called on every access. */
  void expire() {
    long now = nanoClock.getAsLong();
    for (Session s : sessions.values()) {
      synchronized (s) {
        if (s.state == SessionState.SESSION_STATE_OPEN && !s.busy.get() && now - s.lastUsedNanos > s.ttl.toNanos()) {
          s.state = SessionState.SESSION_STATE_EXPIRED;
          s.endedAtNanos = now;
        }
        if (s.state != SessionState.SESSION_STATE_OPEN && now - s.endedAtNanos > TOMBSTONE.toNanos()) {
          sessions.remove(s.id, s);
        }
      }
    }
  }

  /** One question/answer pair of a conversation. The answer is kept as generated ids. */
  record Turn(String question, int[] answerTokenIds, int contextTokens) {}

  /** One conversation. Its turns change only through an {@link AskTurn}. */
  final class Session {
    final String id;
    final String mediaId;
    final ClipRange clip;
    final String systemPrompt;
    final Duration ttl;
    private final List<Turn> turns = new ArrayList<>();
    private final AtomicBoolean busy = new AtomicBoolean();
    private SessionState state = SessionState.SESSION_STATE_OPEN; // guarded by this
    private long lastUsedNanos = nanoClock.getAsLong(); // guarded by this
    private long endedAtNanos; // guarded by this

    private Session(String id, String mediaId, ClipRange clip, String systemPrompt, Duration ttl) {
      this.id = id;
      this.mediaId = mediaId;
      this.clip = clip;
      this.systemPrompt = systemPrompt;
      this.ttl = ttl;
    }

    synchronized List<Turn> turns() {
      return List.copyOf(turns);
    }

    private synchronized void touch() {
      lastUsedNanos = nanoClock.getAsLong();
    }

    synchronized SessionInfo info() {
      long idle = nanoClock.getAsLong() - lastUsedNanos;
      double expiresIn = state == SessionState.SESSION_STATE_OPEN ? Math.max(0, (ttl.toNanos() - idle) / 1e9) : 0;
      return SessionInfo.newBuilder()
          .setSessionId(id)
          .setMediaId(mediaId)
          .setState(state)
          .setTurns(turns.size())
          .setContextTokens(turns.isEmpty() ? 0 : turns.get(turns.size() - 1).contextTokens())
          .setExpiresInSeconds(expiresIn)
          .build();
    }
  }

  /** The exclusive right to run one Ask on a session. Close it exactly once (try-with-resources). */
  final class AskTurn implements AutoCloseable {
    final Session session;
    private boolean closed;

    private AskTurn(Session session) {
      this.session = session;
    }

    /** Appends the finished question and answer; ignored if the session was closed meanwhile. */
    void commit(Turn turn) {
      synchronized (session) {
        if (session.state == SessionState.SESSION_STATE_OPEN) {
          session.turns.add(turn);
        }
      }
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        session.touch();
        session.busy.set(false);
      }
    }
  }
}

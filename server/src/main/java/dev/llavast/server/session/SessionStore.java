package dev.llavast.server.session;

import dev.llavast.models.media.ClipRange;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.tenancy.Tenant;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Open conversations, each bound to one media item: a bounded number of sessions, each expiring
 * after its idle TTL. A session runs one {@code Ask} at a time: {@link #beginAsk} hands out an
 * exclusive {@link AskTurn}; a second concurrent ask is rejected with SESSION_BUSY rather than
 * interleaved.
 *
 * <p>Thread-safe; any thread. Time comes from an injectable nanosecond clock.
 */
public final class SessionStore {
  /**
   * Closed and expired sessions are remembered this long so callers get SESSION_CLOSED, not
   * NOT_FOUND.
   */
  public static final Duration TOMBSTONE = Duration.ofMinutes(10);

  private static final SecureRandom RANDOM = new SecureRandom();

  private final int maxSessions;
  private final Duration defaultTtl;
  private final Duration maxTtl;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();

  public SessionStore(
      int maxSessions, Duration defaultTtl, Duration maxTtl, LongSupplier nanoClock) {
    this.maxSessions = maxSessions;
    this.defaultTtl = defaultTtl;
    this.maxTtl = maxTtl;
    this.nanoClock = nanoClock;
  }

  /**
   * Opens a session.
   *
   * @param clip the session's clip, or null for the whole media
   * @param ttlSeconds idle TTL; 0 means the default
   * @throws ApiException TOO_MANY_SESSIONS at the limit
   */
  public Session create(
      Tenant tenant,
      String mediaId,
      @Nullable ClipRange clip,
      String systemPrompt,
      double ttlSeconds) {
    expire();
    Duration ttl = ttlSeconds <= 0 ? defaultTtl : Duration.ofMillis(Math.round(ttlSeconds * 1000));
    if (ttl.compareTo(maxTtl) > 0) {
      throw ApiException.invalid(
          "ttl_seconds", "must be at most " + maxTtl.toSeconds() + " s, got " + ttlSeconds);
    }
    synchronized (this) {
      if (openCount() >= maxSessions) {
        throw ApiException.of(
            Reason.TOO_MANY_SESSIONS,
            "the server holds its limit of "
                + maxSessions
                + " open sessions; close one or retry later");
      }
      byte[] raw = new byte[16];
      RANDOM.nextBytes(raw);
      Session s =
          new Session("ses_" + HexFormat.of().formatHex(raw), mediaId, clip, systemPrompt, ttl);
      sessions.put(tenant.scope(s.id), s);
      return s;
    }
  }

  /**
   * The open session {@code id}.
   *
   * @throws ApiException SESSION_NOT_FOUND if unknown, SESSION_CLOSED if closed or expired
   */
  public Session open(Tenant tenant, String id) {
    Session s = find(tenant, id);
    synchronized (s) {
      if (s.state != State.OPEN) {
        throw ApiException.of(
            Reason.SESSION_CLOSED,
            "session " + id + " is " + (s.state == State.EXPIRED ? "expired" : "closed"));
      }
    }
    return s;
  }

  /**
   * Any session of {@code tenant}, open or not. SESSION_NOT_FOUND if unknown (another tenant's is
   * unknown).
   */
  public Session find(Tenant tenant, String id) {
    expire();
    Session s = sessions.get(tenant.scope(id));
    if (s == null) {
      throw ApiException.of(Reason.SESSION_NOT_FOUND, "no session with id '" + id + "'");
    }
    return s;
  }

  /**
   * Starts an Ask on an open session.
   *
   * @throws ApiException SESSION_BUSY if another Ask runs on it
   */
  public AskTurn beginAsk(Tenant tenant, String id) {
    Session s = open(tenant, id);
    if (!s.busy.compareAndSet(false, true)) {
      throw ApiException.of(
          Reason.SESSION_BUSY,
          "session " + id + " is answering another question; ask again when it finishes");
    }
    s.touch();
    return new AskTurn(s);
  }

  /** Closes a session (idempotent) and returns its final info. */
  public Snapshot close(Tenant tenant, String id) {
    Session s = find(tenant, id);
    synchronized (s) {
      if (s.state == State.OPEN) {
        s.state = State.CLOSED;
        s.endedAtNanos = nanoClock.getAsLong();
      }
    }
    return s.info();
  }

  /** Open sessions. */
  public int openCount() {
    int n = 0;
    for (Session s : sessions.values()) {
      if (s.state == State.OPEN) {
        n++;
      }
    }
    return n;
  }

  /**
   * Marks idle sessions expired and forgets tombstones past {@link #TOMBSTONE}. Cheap; called on
   * every access.
   */
  public void expire() {
    long now = nanoClock.getAsLong();
    for (Session s : sessions.values()) {
      synchronized (s) {
        if (s.state == State.OPEN && !s.busy.get() && now - s.lastUsedNanos > s.ttl.toNanos()) {
          s.state = State.EXPIRED;
          s.endedAtNanos = now;
        }
        if (s.state != State.OPEN && now - s.endedAtNanos > TOMBSTONE.toNanos()) {
          sessions.remove(s.id, s);
        }
      }
    }
  }

  /** Where a session is in its life. */
  public enum State {
    OPEN,
    CLOSED,
    EXPIRED
  }

  /**
   * A session as clients see it.
   *
   * @param turns questions answered so far
   * @param contextTokens prompt plus answer tokens of the last turn (0 before the first)
   * @param expiresInSeconds idle time left before it expires (0 unless open)
   */
  public record Snapshot(
      String sessionId,
      String mediaId,
      State state,
      int turns,
      int contextTokens,
      double expiresInSeconds) {}

  /** One question/answer pair of a conversation. The answer is kept as generated ids. */
  public record Turn(String question, int[] answerTokenIds, int contextTokens) {}

  /** One conversation. Its turns change only through an {@link AskTurn}. */
  public final class Session {
    public final String id;
    public final String mediaId;
    public final @Nullable ClipRange clip;
    public final String systemPrompt;
    public final Duration ttl;
    private final List<Turn> turns = new ArrayList<>();
    private final AtomicBoolean busy = new AtomicBoolean();
    private State state = State.OPEN; // guarded by this
    private long lastUsedNanos = nanoClock.getAsLong(); // guarded by this
    private long endedAtNanos; // guarded by this

    private Session(
        String id, String mediaId, @Nullable ClipRange clip, String systemPrompt, Duration ttl) {
      this.id = id;
      this.mediaId = mediaId;
      this.clip = clip;
      this.systemPrompt = systemPrompt;
      this.ttl = ttl;
    }

    public synchronized List<Turn> turns() {
      return List.copyOf(turns);
    }

    private synchronized void touch() {
      lastUsedNanos = nanoClock.getAsLong();
    }

    public synchronized Snapshot info() {
      long idle = nanoClock.getAsLong() - lastUsedNanos;
      double expiresIn = state == State.OPEN ? Math.max(0, (ttl.toNanos() - idle) / 1e9) : 0;
      return new Snapshot(
          id,
          mediaId,
          state,
          turns.size(),
          turns.isEmpty() ? 0 : turns.get(turns.size() - 1).contextTokens(),
          expiresIn);
    }
  }

  /**
   * The exclusive right to run one Ask on a session. Close it exactly once (try-with-resources).
   */
  public final class AskTurn implements AutoCloseable {
    public final Session session;
    private boolean closed;

    private AskTurn(Session session) {
      this.session = session;
    }

    /** Appends the finished question and answer; ignored if the session was closed meanwhile. */
    public void commit(Turn turn) {
      synchronized (session) {
        if (session.state == State.OPEN) {
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

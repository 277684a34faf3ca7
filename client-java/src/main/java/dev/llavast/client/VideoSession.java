package dev.llavast.client;

import dev.llavast.api.v1.AskRequest;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.SessionInfo;

/**
 * A conversation about one uploaded video: the video is uploaded and encoded once, then each {@link
 * #ask} adds a turn. Closing it closes the server session (the media stays uploaded).
 *
 * <p>Thread-safety: the server runs one Ask at a time per session (a concurrent one fails with
 * SESSION_BUSY), so use a session from one thread at a time; {@link #close()} from any thread.
 */
public final class VideoSession implements AutoCloseable {
  private final LlavaStClient client;
  private final String sessionId;
  private final String mediaId;
  private volatile boolean closed;

  VideoSession(LlavaStClient client, SessionInfo info) {
    this.client = client;
    this.sessionId = info.getSessionId();
    this.mediaId = info.getMediaId();
  }

  public String sessionId() {
    return sessionId;
  }

  public String mediaId() {
    return mediaId;
  }

  /** Asks a question and waits for the whole answer. */
  public Answer ask(String question) {
    return askStream(question, 0).answer();
  }

  /** Asks with at most {@code maxNewTokens} generated tokens (0: server default). */
  public Answer ask(String question, int maxNewTokens) {
    return askStream(question, maxNewTokens).answer();
  }

  /** Asks and streams the answer; close the stream to cancel. */
  public AnswerStream askStream(String question, int maxNewTokens) {
    return askStream(
        AskRequest.newBuilder()
            .setPrompt(Prompt.newBuilder().setText(question))
            .setSampling(SamplingParams.newBuilder().setMaxNewTokens(maxNewTokens)));
  }

  /** Asks with a full request (task, sampling, output options); the session id is filled in. */
  public AnswerStream askStream(AskRequest.Builder request) {
    if (closed) {
      throw new IllegalStateException("session " + sessionId + " is closed");
    }
    return client.ask(request.setSessionId(sessionId).build(), mediaId);
  }

  /** The session's state on the server (turns, context tokens, expiry). */
  public SessionInfo info() {
    return client.getSession(sessionId, mediaId);
  }

  /** Closes the server session. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      client.closeSession(sessionId, mediaId);
    }
  }
}

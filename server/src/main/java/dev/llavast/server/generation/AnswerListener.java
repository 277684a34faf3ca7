package dev.llavast.server.generation;

import dev.llavast.server.errors.ApiException;

/**
 * Receives one answer: zero or more deltas, then exactly one of {@link #onFinish} or {@link
 * #onError}; nothing after it.
 *
 * <p><b>Threading.</b> Calls come one at a time, in order, from the worker thread that generates
 * (deltas and the final answer), from a media or callback thread (a media failure), or from the
 * thread that called {@link Engine#start} (a request refused before it was queued). Implementations
 * must return quickly and never block: a slow listener stalls every stream on its worker.
 */
public interface AnswerListener {
  /** New text, coordinates and ids. */
  default void onDelta(AnswerDelta delta) {}

  /** Terminal: the whole answer. */
  void onFinish(FinalAnswer answer);

  /** Terminal: the request failed, was refused or was cancelled. */
  void onError(ApiException error);
}

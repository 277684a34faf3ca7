package dev.llavast.client;

/** A running call that can be cancelled from any thread. */
public interface Cancellable {
  /** Cancels the call if it has not ended; the listener then sees CANCELLED. Idempotent. */
  void cancel();
}

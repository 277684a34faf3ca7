package dev.llavast.client;

/**
 * Receives a streaming answer. Called on a gRPC thread, one callback at a time: {@link #onDelta}
 * zero or more times, then exactly one of {@link #onAnswer} or {@link #onError}. Must not block.
 */
public interface StreamListener {
  default void onDelta(Delta delta) {}

  void onAnswer(Answer answer);

  default void onError(LlavaStException error) {}
}

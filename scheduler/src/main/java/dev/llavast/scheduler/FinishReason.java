package dev.llavast.scheduler;

/** Why a request finished normally. */
public enum FinishReason {
  /** A stop token id was sampled (it was not passed to {@link TokenSink#onToken}). */
  STOP_TOKEN,
  /** {@code maxNewTokens} tokens were generated. */
  LENGTH,
  /** The sequence reached the model's context limit. */
  CONTEXT_LIMIT,
  /** {@link TokenSink#onToken} returned false (e.g. a stop string matched). */
  STOPPED_BY_SINK
}

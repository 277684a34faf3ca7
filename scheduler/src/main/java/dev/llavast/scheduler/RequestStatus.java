package dev.llavast.scheduler;

/** Where a request is in its life. Terminal states: {@link #FINISHED}, {@link #FAILED}. */
public enum RequestStatus {
  /** Holding an admission slot, waiting for its prompt (media decode/encode) to complete. */
  PENDING_PROMPT,
  /** Prompt ready, queued on a worker (also after a preemption, before recompute). */
  WAITING,
  /** Running; prompt positions still being computed (possibly in chunks). */
  PREFILLING,
  /** Running; generating one token per step. */
  DECODING,
  /** Ended with {@link TokenSink#onFinish}. */
  FINISHED,
  /** Ended with {@link TokenSink#onError} (cancel, deadline, failure, shutdown). */
  FAILED;

  public boolean isTerminal() {
    return this == FINISHED || this == FAILED;
  }
}

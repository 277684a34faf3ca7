package dev.llavast.scheduler;

/**
 * The one name of each failure the scheduler reports: {@link SchedulerException#reason()}. The
 * server maps each constant to one API reason; nothing downstream reads a message to learn what
 * happened.
 */
public enum SchedulerError {
  /** The waiting queue is full ({@link OverloadedException}); retry later. */
  QUEUE_FULL,
  /** The request can never be served as given ({@link InvalidRequestException}). */
  INVALID_REQUEST,
  /** The request id is already in flight ({@link DuplicateRequestException}). */
  DUPLICATE_REQUEST_ID,
  /** The request was cancelled ({@link RequestCancelledException}). */
  CANCELLED,
  /** The request's deadline passed ({@link DeadlineExceededException}). */
  DEADLINE_EXCEEDED,
  /** Shutting down, or no healthy worker ({@link SchedulerUnavailableException}). */
  UNAVAILABLE,
  /** The prompt future failed ({@link PromptFailedException}); its cause says why. */
  PROMPT_FAILED,
  /** The executor or a sink failed ({@link InternalSchedulerException}). */
  INTERNAL
}

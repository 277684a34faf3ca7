package dev.llavast.server.generation;

import dev.llavast.models.media.MediaException;
import dev.llavast.models.tokenizer.PromptFormatException;
import dev.llavast.scheduler.OverloadedException;
import dev.llavast.scheduler.PromptFailedException;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.errors.Unexpected;
import dev.llavast.server.media.MediaErrors;
import java.util.concurrent.CancellationException;

/**
 * Every failure of a generation as the API's error: the one mapping from scheduler, media and
 * prompt failures to a {@link Reason}, used by every door. An unexpected exception becomes {@link
 * Reason#MODEL_FAILURE} with a message in our words; its details go to the log, once. Stateless;
 * any thread.
 */
public final class Failures {

  private Failures() {}

  /** The API error for {@code t} (futures' wrappers removed). */
  public static ApiException toApi(Throwable t) {
    Throwable e = MediaErrors.unwrap(t);
    if (e instanceof ApiException api) {
      return api;
    }
    if (e instanceof MediaException me) {
      return MediaErrors.toApi(me);
    }
    if (e instanceof PromptFormatException pf) {
      return ApiException.invalid("prompt", pf.getMessage());
    }
    if (e instanceof PromptFailedException pf && pf.getCause() != null) {
      return toApi(pf.getCause());
    }
    if (e instanceof SchedulerException se) {
      return scheduler(se);
    }
    if (e instanceof CancellationException) {
      return ApiException.of(Reason.CANCELLED, "the request was cancelled");
    }
    Throwable mapped = MediaErrors.map(e);
    if (mapped instanceof ApiException api) {
      return api;
    }
    return Unexpected.report("generating", e);
  }

  private static ApiException scheduler(SchedulerException e) {
    String message = e.getMessage();
    return switch (e.reason()) {
      case QUEUE_FULL ->
          ApiException.overloaded(
              message,
              e instanceof OverloadedException o
                  ? o.retryAfter()
                  : java.time.Duration.ofSeconds(1));
      case INVALID_REQUEST -> ApiException.of(Reason.PROMPT_TOO_LONG, message);
      case DUPLICATE_REQUEST_ID -> ApiException.of(Reason.DUPLICATE_REQUEST_ID, message);
      case CANCELLED -> ApiException.of(Reason.CANCELLED, message);
      case DEADLINE_EXCEEDED -> ApiException.of(Reason.DEADLINE_EXCEEDED, message);
      case UNAVAILABLE -> ApiException.of(Reason.NOT_READY, message);
      case PROMPT_FAILED, INTERNAL -> ApiException.of(Reason.MODEL_FAILURE, message);
    };
  }
}

package dev.llavast.scheduler;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.jspecify.annotations.Nullable;

/**
 * One generation request as the scheduler sees it.
 *
 * <p>The prompt may not be ready at submission: while media is still being decoded or encoded, the
 * server passes a {@link CompletionStage} that completes with the rendered prompt. The request
 * holds its admission slot (counted as {@code promptTokens} queued tokens) while the prompt is
 * pending. A request cancelled or expired while pending detaches from the stage and never cancels
 * it, because other requests may share the same media load.
 *
 * @param requestId unique among in-flight requests (the server's request id); used by {@link
 *     Scheduler#cancel(String)}
 * @param prompt completes with the rendered prompt; may already be complete
 * @param promptTokens the prompt length in tokens; exact when the prompt is ready, otherwise the
 *     server's count for the template and media (used for admission and the never-fit check; the
 *     real length is checked again when the prompt arrives)
 * @param mediaKey the media the prompt refers to (for worker affinity), or {@code null}
 * @param sampling how to sample; {@code maxNewTokens} counts for the never-fit check
 * @param priority higher is admitted first and preempted last; 0 is the default
 * @param timeout time allowed from submission to the last token, or {@code null} for none
 */
public record GenerationRequest(
    String requestId,
    CompletionStage<PromptInput> prompt,
    int promptTokens,
    @Nullable String mediaKey,
    SamplingParams sampling,
    int priority,
    @Nullable Duration timeout) {

  public GenerationRequest {
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(sampling, "sampling");
    if (promptTokens <= 0) {
      throw new IllegalArgumentException("promptTokens must be > 0, got " + promptTokens);
    }
    if (timeout != null && timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must be >= 0 or null, got " + timeout);
    }
  }

  /** A request whose prompt is ready, with default priority, no media key and no timeout. */
  public static GenerationRequest of(
      String requestId, PromptInput prompt, SamplingParams sampling) {
    return new GenerationRequest(
        requestId,
        CompletableFuture.completedFuture(prompt),
        prompt.length(),
        null,
        sampling,
        0,
        null);
  }

  /** A request whose prompt is ready. */
  public static GenerationRequest of(
      String requestId,
      PromptInput prompt,
      String mediaKey,
      SamplingParams sampling,
      int priority,
      Duration timeout) {
    return new GenerationRequest(
        requestId,
        CompletableFuture.completedFuture(prompt),
        prompt.length(),
        mediaKey,
        sampling,
        priority,
        timeout);
  }

  /** A request whose prompt arrives later, expected to be {@code promptTokens} long. */
  public static GenerationRequest pending(
      String requestId,
      CompletionStage<PromptInput> prompt,
      int promptTokens,
      String mediaKey,
      SamplingParams sampling,
      int priority,
      Duration timeout) {
    return new GenerationRequest(
        requestId, prompt, promptTokens, mediaKey, sampling, priority, timeout);
  }

  /** This request with another priority. */
  public GenerationRequest withPriority(int newPriority) {
    return new GenerationRequest(
        requestId, prompt, promptTokens, mediaKey, sampling, newPriority, timeout);
  }

  /** This request with another timeout ({@code null} for none). */
  public GenerationRequest withTimeout(Duration newTimeout) {
    return new GenerationRequest(
        requestId, prompt, promptTokens, mediaKey, sampling, priority, newTimeout);
  }

  /** This request with another media key. */
  public GenerationRequest withMediaKey(String newMediaKey) {
    return new GenerationRequest(
        requestId, prompt, promptTokens, newMediaKey, sampling, priority, timeout);
  }
}

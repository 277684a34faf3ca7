package dev.llavast.scheduler;

import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a step produced: one sampled token for each sequence step that asked to sample, in the order
 * of {@link StepPlan#sequences()} restricted to those with {@code sample == true}.
 *
 * <p>A sample may instead have failed on its own (its logits were not finite, say): the scheduler
 * then fails only that sequence with {@link SchedulerError#INTERNAL} and the message given here,
 * computes nothing more for it and caches none of its blocks; the other sequences of the step carry
 * on. Immutable by contract; any thread.
 *
 * @param tokenIds sampled ids (the entry of a failed sample is ignored)
 * @param logprobs log-probability of each sampled id, or {@code null} when none was requested
 * @param failures per sample, null when it succeeded or why it failed; the array itself is null
 *     when every sample succeeded
 */
public record StepResult(
    int[] tokenIds, float @Nullable [] logprobs, @Nullable String @Nullable [] failures) {

  /** A step whose every sample succeeded. */
  public StepResult(int[] tokenIds, float @Nullable [] logprobs) {
    this(tokenIds, logprobs, null);
  }

  /** Whether sample {@code i} failed. */
  public boolean failed(int i) {
    return failures != null && failures[i] != null;
  }

  /** Why sample {@code i} failed; only for a sample that {@link #failed}. */
  public String failure(int i) {
    String why = failures == null ? null : failures[i];
    if (why == null) {
      throw new IllegalStateException("sample " + i + " did not fail");
    }
    return why;
  }

  /** How many samples failed. */
  public int failedCount() {
    return failures == null ? 0 : (int) Arrays.stream(failures).filter(Objects::nonNull).count();
  }
}

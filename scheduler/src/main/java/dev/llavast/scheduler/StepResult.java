package dev.llavast.scheduler;

import org.jspecify.annotations.Nullable;

/**
 * What a step produced: one sampled token for each sequence step that asked to sample, in the order
 * of {@link StepPlan#sequences()} restricted to those with {@code sample == true}.
 *
 * @param tokenIds sampled ids
 * @param logprobs log-probability of each sampled id, or {@code null} when none was requested
 */
public record StepResult(int[] tokenIds, float @Nullable [] logprobs) {}

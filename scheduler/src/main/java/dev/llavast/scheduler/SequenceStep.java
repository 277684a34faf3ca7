package dev.llavast.scheduler;

/**
 * One sequence's share of a step: a run of consecutive positions to compute.
 *
 * <p>For a prefill chunk, {@code tokenIds} are the prompt ids at positions {@code [startPosition,
 * startPosition + tokenIds.length)} and the executor consults {@code prompt} for visual spans and
 * value tokens at those positions. For a decode step, {@code tokenIds} holds the one previously
 * sampled id (which may be an extended id beyond the text vocabulary) at {@code startPosition}.
 *
 * <p>After a preemption the scheduler recomputes a sequence from its prompt <i>and</i> the tokens
 * it had generated: such a run may extend past the prompt (or lie wholly beyond it), and its ids at
 * positions {@code >= prompt.length()} are previously generated ids, to be embedded exactly as a
 * decode step would embed them. {@code sample} is true only on the run that ends at the last known
 * token, so the next token is sampled with {@code generated.length} as its index.
 *
 * <p>K/V for positions {@code [0, startPosition)} are already in the blocks named by {@code
 * blockTable}; the executor writes K/V for the new positions into the slots {@code blockTable[p /
 * blockSize]}, offset {@code p % blockSize}. The block table covers at least {@code startPosition +
 * tokenIds.length} positions.
 *
 * <p>Arrays are owned by the scheduler and must not be modified or retained after the step.
 *
 * @param sequenceId scheduler-unique id, stable across preemption
 * @param prompt the whole prompt (visual spans and value tokens are looked up by position)
 * @param tokenIds ids to feed at consecutive positions
 * @param startPosition position of {@code tokenIds[0]}
 * @param blockTable physical KV block ids, logical block {@code i} at index {@code i}
 * @param sample whether to sample a token after the last position of this run
 * @param sampling sampling parameters (used only when {@code sample})
 * @param generated ids generated so far (for the repetition penalty and the per-token seed)
 */
public record SequenceStep(
    long sequenceId,
    PromptInput prompt,
    int[] tokenIds,
    int startPosition,
    int[] blockTable,
    boolean sample,
    SamplingParams sampling,
    int[] generated) {

  public boolean isPrefill() {
    return startPosition < prompt.length();
  }
}

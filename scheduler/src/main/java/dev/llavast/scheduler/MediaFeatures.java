package dev.llavast.scheduler;

/**
 * Packed visual features of one media item, in host memory, as the model splices them into a prompt
 * (for LLaVA-ST video: the 1 620 slow STP tokens; for an image: 729 tokens). Opaque to the
 * scheduler.
 *
 * <p>Immutable and safe to share between threads and requests; the feature cache owns it.
 */
public interface MediaFeatures {
  /** The key the features were encoded for (see {@link PreparedMedia#mediaKey()}). */
  String mediaKey();

  /** Number of LLM positions the features fill. */
  int tokenCount();

  /** Host bytes held, for cache weighing. */
  long bytes();
}

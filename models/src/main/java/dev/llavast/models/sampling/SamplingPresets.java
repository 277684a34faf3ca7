package dev.llavast.models.sampling;

import dev.llavast.scheduler.SamplingParams;

/**
 * Named sampling settings. Immutable; any thread.
 *
 * <p>The reference (spec §9) calls {@code generate(do_sample=True, temperature=0.01, top_p=None)}
 * and HF merges the checkpoint's {@code generation_config.json} (LLaVA-OneVision descendants:
 * repetition penalty 1.05, top-k 20, eos {@code <|im_end|>} and {@code <|endoftext|>}). {@code
 * top_p=None} passed explicitly disables the file's top-p. Temperature 0.01 is nearly greedy but
 * not deterministic near ties; {@link #referenceGreedy} is the deterministic default we recommend,
 * {@link #reference} the exact emulation.
 */
public final class SamplingPresets {
  /** The release's repetition penalty (from generation_config.json, [inferred] in the spec). */
  public static final float REFERENCE_REPETITION_PENALTY = 1.05f;

  public static final int REFERENCE_TOP_K = 20;
  public static final float REFERENCE_TEMPERATURE = 0.01f;

  private SamplingPresets() {}

  /** Exact emulation: penalty 1.05 -> /0.01 -> top-k 20 -> softmax -> seeded draw. */
  public static SamplingParams reference(long seed, int maxNewTokens, int... stopTokenIds) {
    return new SamplingParams(
        REFERENCE_TEMPERATURE,
        1f,
        REFERENCE_TOP_K,
        REFERENCE_REPETITION_PENALTY,
        seed,
        maxNewTokens,
        stopTokenIds,
        false);
  }

  /** Deterministic: argmax after the reference's repetition penalty 1.05. */
  public static SamplingParams referenceGreedy(int maxNewTokens, int... stopTokenIds) {
    return new SamplingParams(
        0f, 1f, 0, REFERENCE_REPETITION_PENALTY, 0L, maxNewTokens, stopTokenIds, false);
  }
}

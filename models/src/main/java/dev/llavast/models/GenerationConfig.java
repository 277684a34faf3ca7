package dev.llavast.models;

import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * The generation defaults a checkpoint ships in {@code generation_config.json} (spec §9, §16.2).
 * Fields the file does not set are empty. Immutable; any thread.
 *
 * @param eosTokenIds {@code eos_token_id} (a single id or a list), empty if absent
 * @param padTokenId {@code pad_token_id}
 * @param doSample {@code do_sample} (false if absent, as in HF)
 * @param temperature {@code temperature}
 * @param topK {@code top_k}
 * @param topP {@code top_p}
 * @param repetitionPenalty {@code repetition_penalty}
 */
public record GenerationConfig(
    List<Integer> eosTokenIds,
    OptionalInt padTokenId,
    boolean doSample,
    OptionalDouble temperature,
    OptionalInt topK,
    OptionalDouble topP,
    OptionalDouble repetitionPenalty) {

  public GenerationConfig {
    eosTokenIds = List.copyOf(eosTokenIds);
    Objects.requireNonNull(padTokenId, "padTokenId");
    Objects.requireNonNull(temperature, "temperature");
    Objects.requireNonNull(topK, "topK");
    Objects.requireNonNull(topP, "topP");
    Objects.requireNonNull(repetitionPenalty, "repetitionPenalty");
  }

  /** No file: nothing set. */
  public static GenerationConfig empty() {
    return new GenerationConfig(
        List.of(),
        OptionalInt.empty(),
        false,
        OptionalDouble.empty(),
        OptionalInt.empty(),
        OptionalDouble.empty(),
        OptionalDouble.empty());
  }
}

package dev.llavast.models.lape;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.CheckpointLayout;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import dev.llavast.models.nn.Weights;
import org.jspecify.annotations.Nullable;

/**
 * The extended vocabulary (spec §4.5): ids {@code >= V} are LAPE rows. Input table {@code
 * [embed_tokens; T_in; H_in; W_in]} and output head {@code [lm_head; T_out; H_out; W_out]}, both
 * {@code [V + 3·bins, C]}, concatenated once at load and owned by the weights' manager. Worker
 * thread only.
 */
public final class ExtendedVocab {
  private final int vocab;
  private final int extended;
  private final NDArray embed; // [V + 3 bins, C]
  private final NDArray head; // [V + 3 bins, C]

  private ExtendedVocab(int vocab, int extended, NDArray embed, NDArray head) {
    this.vocab = vocab;
    this.extended = extended;
    this.embed = embed;
    this.head = head;
  }

  public static ExtendedVocab load(ModelConfig cfg, Weights w) {
    long v = cfg.vocabSize();
    long c = cfg.hiddenSize();
    long bins = cfg.numCoordinateBins();
    NDArray embed =
        w.loadConcat(
            java.util.List.of(
                CheckpointLayout.EMBED_TOKENS,
                Lape.TEMPORAL_INPUT,
                Lape.HEIGHT_INPUT,
                Lape.WIDTH_INPUT),
            java.util.List.of(
                new long[] {v, c},
                new long[] {bins, c},
                new long[] {bins, c},
                new long[] {bins, c}));
    String headName =
        cfg.tieWordEmbeddings() ? CheckpointLayout.EMBED_TOKENS : CheckpointLayout.LM_HEAD;
    NDArray head =
        w.loadConcat(
            java.util.List.of(
                headName, Lape.TEMPORAL_OUTPUT, Lape.HEIGHT_OUTPUT, Lape.WIDTH_OUTPUT),
            java.util.List.of(
                new long[] {v, c},
                new long[] {bins, c},
                new long[] {bins, c},
                new long[] {bins, c}));
    return new ExtendedVocab(cfg.vocabSize(), cfg.extendedVocabSize(), embed, head);
  }

  /** {@code V}. */
  public int vocabSize() {
    return vocab;
  }

  /** {@code V + 3·bins}: the width of a logit row and the id bound. */
  public int extendedSize() {
    return extended;
  }

  /**
   * Embeds N rows, each a blend of two rows of the input table: {@code out[i] =
   * E[rowA[i]]·weightA[i] + E[rowB[i]]·weightB[i]} (a plain id is {@code (id, 1, id, 0)}; a
   * coordinate value is the lerp of two LAPE input rows). When {@code rowB} is null only the first
   * term is used.
   *
   * @return {@code [N, C]} owned by {@code step}
   */
  public NDArray embedBlend(
      long[] rowA, float[] weightA, long @Nullable [] rowB, float[] weightB, NDManager step) {
    int n = rowA.length;
    try (NDArray ia = step.create(rowA)) { // [N]
      NDArray a = Ops.own(embed.get(new NDIndex("{}", ia)), step); // [N, C]
      if (rowB == null) {
        return a;
      }
      try (NDArray wa =
              step.create(weightA, new Shape(n, 1)).toType(embed.getDataType(), false); // [N, 1]
          NDArray ib = step.create(rowB); // [N]
          NDArray wb =
              step.create(weightB, new Shape(n, 1)).toType(embed.getDataType(), false); // [N, 1]
          NDArray b = Ops.own(embed.get(new NDIndex("{}", ib)), step); // [N, C]
          NDArray aw = a.mul(wa); // [N, C]
          NDArray bw = b.mul(wb)) { // [N, C]
        a.close();
        return aw.add(bw); // [N, C]
      }
    }
  }

  /**
   * Logits over the extended vocabulary.
   *
   * @param hidden {@code [M, C]}
   * @return {@code [M, V + 3·bins]} in hidden's manager: columns V.. are T, then H, then W bins
   */
  public NDArray logits(NDArray hidden) {
    return Ops.linear(hidden, head, null);
  }
}

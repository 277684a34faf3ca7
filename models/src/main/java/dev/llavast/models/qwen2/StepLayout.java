package dev.llavast.models.qwen2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import java.util.ArrayList;
import java.util.List;

/**
 * Host-side plan of one paged step, computed once and shared by all layers: RoPE tables, the pool
 * slots to write, and the attention groups (all single-token decode runs together; each longer run
 * alone, so a long prefill chunk never pads the decodes). Every NDArray here is owned by the step
 * manager. Worker thread only.
 */
final class StepLayout {
  /**
   * One attention group: {@code S} runs padded to {@code qMax} queries and {@code kMax} keys. Keys are
   * gathered as whole blocks (one contiguous copy per block), so {@code kMax} is a multiple of the
   * block size; key position {@code p} of run {@code s} is slot {@code p % bs} of its block
   * {@code p / bs}, and positions past the run's context are masked.
   */
  record Group(
      int seqs,
      int qMax,
      int kMax,
      NDArray qRows,     // [S*Qm] int64: input row of (s, j); padding repeats the run's first row
      NDArray kvBlock,   // [S*Lk/bs] int64: pool block b of run s (whole blocks in logical order; padding repeats block 0)
      NDArray mask,      // [S, 1, 1, Qm, Lk] fp32: 0 where (s, j) may see key p, -inf elsewhere
      NDArray outRows) {} // [n_g] int64 valid rows of the padded [S*Qm] output, or null when no padding

  /** Most single-token decode runs attended in one group. */
  static final int MAX_DECODE_GROUP = 8;

  final int rows;
  final NDArray cos;        // [N, 1, D]
  final NDArray sin;        // [N, 1, D]
  final NDArray writeBlock; // [N] int64
  final NDArray writeSlot;  // [N] int64
  final long[] emitRows;    // rows whose final hidden state is wanted
  final List<Group> groups = new ArrayList<>();
  final NDArray reorder;    // [N] int64: row i of the output is row reorder[i] of the group concatenation, or null

  StepLayout(PagedBatch batch, int numBlocks, ModelConfig cfg, NDManager step, DataType dtype) {
    int bs = batch.blockSize();
    List<PagedBatch.Run> runs = batch.runs();
    rows = batch.rows();
    int d = cfg.headDim();
    long[] positions = new long[rows];
    long[] wb = new long[rows];
    long[] ws = new long[rows];
    int[] rowOffset = new int[runs.size()];
    List<Long> emit = new ArrayList<>();
    int r = 0;
    for (int i = 0; i < runs.size(); i++) {
      PagedBatch.Run run = runs.get(i);
      rowOffset[i] = r;
      int end = run.startPosition() + run.length();
      if (end > cfg.maxPositionEmbeddings()) {
        throw new IllegalArgumentException("run " + i + " reaches position " + end + " beyond max_position_embeddings "
            + cfg.maxPositionEmbeddings());
      }
      for (int b = 0; b < (end + bs - 1) / bs; b++) {
        int blk = run.blockTable()[b];
        if (blk < 0 || blk >= numBlocks) {
          throw new IllegalArgumentException("run " + i + " names KV block " + blk + " outside the pool of "
              + numBlocks + " blocks");
        }
      }
      for (int j = 0; j < run.length(); j++) {
        int p = run.startPosition() + j;
        positions[r] = p;
        wb[r] = run.blockTable()[p / bs];
        ws[r] = p % bs;
        r++;
      }
      if (run.emitHidden()) {
        emit.add((long) (r - 1));
      }
    }
    emitRows = emit.stream().mapToLong(Long::longValue).toArray();
    float[][] cs = Ops.ropeTables(positions, d, cfg.ropeTheta());
    cos = cast(step.create(cs[0], new Shape(rows, 1, d)), dtype);
    sin = cast(step.create(cs[1], new Shape(rows, 1, d)), dtype);
    writeBlock = step.create(wb);
    writeSlot = step.create(ws);

    List<List<Integer>> plan = new ArrayList<>();
    List<Integer> decodes = new ArrayList<>();
    for (int i = 0; i < runs.size(); i++) {
      if (runs.get(i).length() == 1) {
        decodes.add(i);
      }
    }
    // Groups in first-appearance order: the decode groups where the first decode is, each long run alone.
    // Decodes go in groups of at most MAX_DECODE_GROUP sequences: one group's gathered K/V stays small
    // (measured on CPU: 8 decodes x 2,600 keys ~100 ms a step, 32 in one group ~3.2 s, superlinear).
    boolean decodesPlaced = false;
    for (int i = 0; i < runs.size(); i++) {
      if (runs.get(i).length() == 1) {
        if (!decodesPlaced) {
          for (int from = 0; from < decodes.size(); from += MAX_DECODE_GROUP) {
            plan.add(decodes.subList(from, Math.min(decodes.size(), from + MAX_DECODE_GROUP)));
          }
          decodesPlaced = true;
        }
      } else {
        plan.add(List.of(i));
      }
    }
    long[] order = new long[rows];
    int cat = 0;
    boolean identity = true;
    for (List<Integer> members : plan) {
      groups.add(group(members, runs, rowOffset, bs, step));
      for (int i : members) {
        for (int j = 0; j < runs.get(i).length(); j++) {
          int row = rowOffset[i] + j;
          order[row] = cat;
          identity &= row == cat;
          cat++;
        }
      }
    }
    reorder = identity ? null : step.create(order);
  }

  private static Group group(List<Integer> members, List<PagedBatch.Run> runs, int[] rowOffset, int bs,
      NDManager step) {
    int s = members.size();
    int qm = 0;
    int lk = 0;
    for (int i : members) {
      qm = Math.max(qm, runs.get(i).length());
      int ctx = runs.get(i).startPosition() + runs.get(i).length();
      lk = Math.max(lk, (ctx + bs - 1) / bs * bs);
    }
    int nb = lk / bs;
    long[] qRows = new long[s * qm];
    long[] kb = new long[s * nb];
    float[] mask = new float[s * qm * lk];
    List<Long> out = new ArrayList<>();
    boolean padded = false;
    for (int si = 0; si < s; si++) {
      PagedBatch.Run run = runs.get(members.get(si));
      int ctx = run.startPosition() + run.length();
      int used = (ctx + bs - 1) / bs;
      for (int b = 0; b < nb; b++) {
        kb[si * nb + b] = run.blockTable()[b < used ? b : 0];
      }
      for (int j = 0; j < qm; j++) {
        boolean real = j < run.length();
        padded |= !real;
        qRows[si * qm + j] = rowOffset[members.get(si)] + (real ? j : 0);
        if (real) {
          out.add((long) (si * qm + j));
        }
        int visible = real ? run.startPosition() + j : 0; // last visible key position
        int base = (si * qm + j) * lk;
        for (int p = 0; p < lk; p++) {
          mask[base + p] = p <= visible ? 0f : Float.NEGATIVE_INFINITY;
        }
      }
    }
    NDArray outRows = padded ? step.create(out.stream().mapToLong(Long::longValue).toArray()) : null;
    return new Group(s, qm, lk, step.create(qRows), step.create(kb),
        step.create(mask, new Shape(s, 1, 1, qm, lk)), outRows);
  }

  private static NDArray cast(NDArray a, DataType dt) {
    if (a.getDataType() == dt) {
      return a;
    }
    NDArray c = a.toType(dt, false);
    a.close();
    return c;
  }
}

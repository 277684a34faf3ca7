package dev.llavast.models.qwen2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.llavast.models.ModelConfig;
import dev.llavast.models.nn.Ops;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Host-side plan of one paged step, computed once and shared by all layers: RoPE tables, the pool
 * slots to write, and the attention groups. Runs whose block tables start with the same full blocks
 * (many questions on one video share its ~2,540-token prefix) form {@link Shared} groups that read
 * the common prefix once for all of them; single-token decodes and longer runs (prefill chunks) are
 * grouped apart, so a long chunk never pads the decodes. The other decodes go in {@link Padded}
 * groups of at most {@link #MAX_DECODE_GROUP} whose K/V gather stays within {@link
 * Ops#scoreTileElements}, and every other longer run is a padded group alone. Every NDArray here is
 * owned by the step manager. Worker thread only.
 */
final class StepLayout {
  /** An attention group; its output rows are its members' rows in member order. */
  sealed interface Group permits Padded, Shared {}

  /**
   * {@code S} runs padded to {@code qMax} queries and {@code kMax} keys. Keys are gathered as whole
   * blocks (one contiguous copy per block), so {@code kMax} is a multiple of the block size; key
   * position {@code p} of run {@code s} is slot {@code p % bs} of its block {@code p / bs}, and
   * positions past the run's context are masked.
   */
  record Padded(
      int seqs,
      int qMax,
      int kMax,
      NDArray qRows, // [S*Qm] int64: input row of (s, j); padding repeats the run's first row
      long
          kvStart, // first pool block when S = 1 and its blocks are consecutive (a slice, no copy),
      // else -1
      @Nullable NDArray
          kvBlock, // [S*Lk/bs] int64: pool block b of run s (whole blocks in logical order; padding
      // repeats
      // block 0), or null when kvStart >= 0
      NDArray mask, // [S, 1, Qm, 1, Lk] fp32: 0 where (s, j) may see key p, -inf elsewhere
      @Nullable NDArray outRows)
      implements Group {} // [n_g] int64 valid rows of the padded [S*Qm] output, or null when no

  // padding

  /**
   * {@code S} runs whose first {@code prefixBlocks} blocks are the same pool blocks, all of them
   * full and before every member's first query, padded to {@code qMax} queries. Attention is split
   * in two and merged by log-sum-exp: the shared prefix (one read, one matmul for all query rows of
   * a KV head, no mask) and each member's own suffix (blocks {@code prefixBlocks ..}, padded to
   * {@code suffixKeys} and masked like {@link Padded}, causally for prefill chunks).
   */
  record Shared(
      int seqs,
      int qMax,
      int prefixBlocks,
      int suffixKeys,
      NDArray qRows, // [S*Qm] int64: input row of (s, j); padding repeats the run's first row
      long prefixStart, // first pool block when the prefix blocks are consecutive (a slice, no
      // copy), else -1
      @Nullable NDArray
          prefixBlock, // [P] int64: pool blocks of the prefix, or null when prefixStart >= 0
      NDArray suffixBlock, // [S*Ls/bs] int64: pool block b of member s after the prefix (padding
      // repeats its first)
      NDArray
          suffixMask, // [S, 1, Qm, 1, Ls] fp32: 0 where (s, j) sees suffix key i, -inf elsewhere
      @Nullable NDArray outRows)
      implements Group {} // [n_g] int64 valid rows of the padded [S*Qm] output, or null when no

  // padding

  /**
   * Most single-token decode runs attended in one padded group on CPU (fewer when their K/V gather
   * would be large); the model may set another bound per device.
   */
  static final int MAX_DECODE_GROUP = 8;

  /**
   * Most runs in one shared-prefix group (bounds its suffix gather and mask; scores are tiled
   * anyway).
   */
  static final int MAX_SHARED_GROUP = 64;

  /**
   * Fewest shared keys worth the split: below this the extra ops cost more than the reads they
   * save.
   */
  static final int MIN_SHARED_KEYS = 16;

  final int rows;
  final NDArray cos; // [N, 1, D]
  final NDArray sin; // [N, 1, D] signed: [-sin, sin] over the halves of D (Ops.ropeSigned)
  final NDArray writeBlock; // [N] int64
  final NDArray writeSlot; // [N] int64
  final long[] emitRows; // rows whose final hidden state is wanted
  final List<Group> groups = new ArrayList<>();
  final @Nullable NDArray
      reorder; // [N] int64: row i of the output is row reorder[i] of the group concatenation, or

  // null

  StepLayout(PagedBatch batch, int numBlocks, ModelConfig cfg, NDManager step, DataType dtype) {
    this(batch, numBlocks, cfg, step, dtype, MAX_DECODE_GROUP);
  }

  /**
   * A layout whose padded decode groups hold at most {@code maxDecodeGroup} runs; {@link
   * Integer#MAX_VALUE} puts every decode that shares no prefix in one group, however unequal their
   * contexts (on a GPU, where each group costs launches per layer and padding costs little).
   */
  StepLayout(
      PagedBatch batch,
      int numBlocks,
      ModelConfig cfg,
      NDManager step,
      DataType dtype,
      int maxDecodeGroup) {
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
        throw new IllegalArgumentException(
            "run "
                + i
                + " reaches position "
                + end
                + " beyond max_position_embeddings "
                + cfg.maxPositionEmbeddings());
      }
      for (int b = 0; b < (end + bs - 1) / bs; b++) {
        int blk = run.blockTable()[b];
        if (blk < 0 || blk >= numBlocks) {
          throw new IllegalArgumentException(
              "run "
                  + i
                  + " names KV block "
                  + blk
                  + " outside the pool of "
                  + numBlocks
                  + " blocks");
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
    for (int row = 0; row < rows; row++) {
      for (int i = 0; i < d / 2; i++) {
        cs[1][row * d + i] = -cs[1][row * d + i];
      }
    }
    cos = cast(step.create(cs[0], new Shape(rows, 1, d)), dtype);
    sin = cast(step.create(cs[1], new Shape(rows, 1, d)), dtype);
    writeBlock = step.create(wb);
    writeSlot = step.create(ws);

    long kvRow = (long) cfg.numKeyValueHeads() * d; // K elements per key
    // A quarter of the score budget: on CPU, 3 decodes x 2,600 keys of SMALL gathered into one
    // padded group
    // (1.0 M K elements) cost more than 3 single-run groups (32 decodes on 32 videos: 450 vs 184 ms
    // a step).
    long kvTile = Ops.scoreTileElements(step.getDevice()) / 4;
    List<Integer> decodes = new ArrayList<>();
    List<Integer> chunks = new ArrayList<>();
    for (int i = 0; i < runs.size(); i++) {
      (runs.get(i).length() == 1 ? decodes : chunks).add(i);
    }
    // Decodes first, then prefill chunks; shared groups before padded ones (the output is put back
    // in
    // row order by `reorder`).
    List<List<Integer>> members = new ArrayList<>();
    for (List<Integer> kind : List.of(decodes, chunks)) {
      List<Integer> alone = new ArrayList<>();
      for (SharedPlan sp : sharedPlans(kind, runs, bs)) {
        int lone = sp.members().size() == 1 ? loneSplit(runs.get(sp.members().get(0)), bs) : 0;
        if (lone > 0) {
          // one run whose context starts with a long stretch of consecutive pool blocks (a cached
          // video prefix) and continues elsewhere (its own blocks): read the stretch in place and
          // gather only the rest, instead of gathering its whole context every step
          members.add(sp.members());
          groups.add(shared(new SharedPlan(sp.members(), lone), runs, rowOffset, bs, step));
        } else if (sp.members().size() < 2) {
          alone.addAll(sp.members());
        } else {
          members.add(sp.members());
          groups.add(shared(sp, runs, rowOffset, bs, step));
        }
      }
      // Shortest contexts first: a padded group pads its members to at most twice its first one's
      // keys.
      alone.sort(
          Comparator.comparingInt((Integer i) -> blocksUpTo(runs.get(i), bs))
              .thenComparingInt(i -> i));
      // Other chunks alone; other decodes in padded groups that gather at most kvTile K (and as
      // many V)
      // elements and hold at most maxDecodeGroup runs: a group copies S whole contexts, and on
      // CPU 8 x
      // 2,600 keys of SMALL (10 MB per layer) cost ~410 ms a step against ~35 ms for 8 single-run
      // groups.
      List<Integer> part = new ArrayList<>();
      int firstKeys = 0;
      for (int i : alone) {
        int keys = blocksUpTo(runs.get(i), bs) * bs;
        boolean fits =
            kind == decodes
                && (maxDecodeGroup
                        == Integer.MAX_VALUE // one group: launches cost more than padding
                    || (part.size() < maxDecodeGroup
                        && keys <= 2 * firstKeys
                        && (long) (part.size() + 1) * keys * kvRow <= kvTile));
        if (!part.isEmpty() && !fits) {
          members.add(part);
          groups.add(padded(part, runs, rowOffset, bs, step));
          part = new ArrayList<>();
        }
        if (part.isEmpty()) {
          firstKeys = keys;
        }
        part.add(i);
      }
      if (!part.isEmpty()) {
        members.add(part);
        groups.add(padded(part, runs, rowOffset, bs, step));
      }
    }
    long[] order = new long[rows];
    int cat = 0;
    boolean identity = true;
    for (List<Integer> group : members) {
      for (int i : group) {
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

  /** Runs that attend together over their first {@code prefixBlocks} blocks. */
  record SharedPlan(List<Integer> members, int prefixBlocks) {}

  /**
   * Splits runs into shared-prefix candidates: runs sorted by block table, then cut greedily
   * wherever adding the next run would shrink the common prefix below half of what the group shares
   * so far or below {@link #MIN_SHARED_KEYS} (a question on another video shares only the system
   * prompt's first block, so it starts a new group). Only full blocks before a run's first query
   * count, so every member keeps at least its own keys in its suffix. Members are in row order;
   * plans of one run are returned too (the caller pads them).
   */
  static List<SharedPlan> sharedPlans(List<Integer> candidates, List<PagedBatch.Run> runs, int bs) {
    List<Integer> sorted = new ArrayList<>(candidates);
    sorted.sort(
        Comparator.comparing(
            (Integer i) -> runs.get(i),
            (a, b) ->
                Arrays.compare(a.blockTable(), 0, full(a, bs), b.blockTable(), 0, full(b, bs))));
    List<SharedPlan> plans = new ArrayList<>();
    List<Integer> cur = new ArrayList<>();
    int prefix = 0;
    for (int i : sorted) {
      PagedBatch.Run run = runs.get(i);
      if (!cur.isEmpty()) {
        PagedBatch.Run first = runs.get(cur.get(0));
        int common =
            Math.min(
                prefix,
                Math.min(full(run, bs), commonBlocks(first.blockTable(), run.blockTable())));
        if (common * bs >= MIN_SHARED_KEYS
            && 2 * common >= prefix
            && cur.size() < MAX_SHARED_GROUP) {
          cur.add(i);
          prefix = common;
          continue;
        }
        plans.add(new SharedPlan(cur.stream().sorted().toList(), prefix));
        cur.clear();
      }
      cur.add(i);
      prefix = full(run, bs);
    }
    if (!cur.isEmpty()) {
      plans.add(new SharedPlan(cur.stream().sorted().toList(), prefix));
    }
    return plans;
  }

  /**
   * For a run alone: how many of its leading blocks to read in place as a one-member {@link Shared}
   * group's prefix, the consecutive pool blocks it starts with, when they are at least {@link
   * #MIN_SHARED_KEYS} keys before its first query and its context does not continue them (a
   * consecutive context is read in place by a {@link Padded} group already); else 0.
   */
  static int loneSplit(PagedBatch.Run run, int bs) {
    int[] table = run.blockTable();
    int limit = full(run, bs);
    int lead = 0;
    while (lead < limit && table[lead] == table[0] + lead) {
      lead++;
    }
    int used = blocksUpTo(run, bs);
    boolean wholeConsecutive = lead == limit;
    for (int b = limit; b < used && wholeConsecutive; b++) {
      wholeConsecutive = table[b] == table[0] + b;
    }
    return wholeConsecutive || lead * bs < MIN_SHARED_KEYS ? 0 : lead;
  }

  /** Length of the longest common prefix of two block tables. */
  private static int commonBlocks(int[] a, int[] b) {
    int m = Arrays.mismatch(a, b);
    return m < 0 ? a.length : m;
  }

  /** Full blocks strictly before the run's first query position. */
  private static int full(PagedBatch.Run run, int bs) {
    return run.startPosition() / bs;
  }

  private static Shared shared(
      SharedPlan plan, List<PagedBatch.Run> runs, int[] rowOffset, int bs, NDManager step) {
    List<Integer> members = plan.members();
    int p = plan.prefixBlocks();
    int[] table = runs.get(members.get(0)).blockTable();
    boolean consecutive = true;
    long[] prefix = new long[p];
    for (int b = 0; b < p; b++) {
      prefix[b] = table[b];
      consecutive &= table[b] == table[0] + b;
    }
    int suffixBlocks = 0;
    for (int i : members) {
      suffixBlocks = Math.max(suffixBlocks, blocksUpTo(runs.get(i), bs) - p);
    }
    Queries q = queries(members, runs, rowOffset, suffixBlocks * bs, p * bs, step);
    return new Shared(
        members.size(),
        q.qMax(),
        p,
        suffixBlocks * bs,
        q.rows(),
        consecutive ? table[0] : -1,
        consecutive ? null : step.create(prefix),
        blockList(members, runs, p, suffixBlocks, bs, step),
        q.mask(),
        q.outRows());
  }

  private static Padded padded(
      List<Integer> members, List<PagedBatch.Run> runs, int[] rowOffset, int bs, NDManager step) {
    int nb = 0;
    for (int i : members) {
      nb = Math.max(nb, blocksUpTo(runs.get(i), bs));
    }
    Queries q = queries(members, runs, rowOffset, nb * bs, 0, step);
    int[] table = runs.get(members.get(0)).blockTable();
    boolean consecutive = members.size() == 1;
    for (int b = 1; b < nb && consecutive; b++) {
      consecutive = table[b] == table[0] + b;
    }
    return new Padded(
        members.size(),
        q.qMax(),
        nb * bs,
        q.rows(),
        consecutive ? table[0] : -1,
        consecutive ? null : blockList(members, runs, 0, nb, bs, step),
        q.mask(),
        q.outRows());
  }

  /** Blocks holding the run's keys up to its last query. */
  private static int blocksUpTo(PagedBatch.Run run, int bs) {
    return (run.startPosition() + run.length() + bs - 1) / bs;
  }

  /**
   * The pool blocks {@code from .. from+count} of every member, in member order: {@code [S*count]}
   * int64. A member with fewer blocks up to its last query repeats its block {@code from} (those
   * keys are masked).
   */
  private static NDArray blockList(
      List<Integer> members,
      List<PagedBatch.Run> runs,
      int from,
      int count,
      int bs,
      NDManager step) {
    long[] kb = new long[members.size() * count];
    for (int si = 0; si < members.size(); si++) {
      PagedBatch.Run run = runs.get(members.get(si));
      int used = blocksUpTo(run, bs) - from;
      for (int b = 0; b < count; b++) {
        kb[si * count + b] = run.blockTable()[from + (b < used ? b : 0)];
      }
    }
    return step.create(kb);
  }

  /**
   * Members' query rows padded to the longest run.
   *
   * @param qMax the longest run
   * @param rows {@code [S*Qm]} int64: input row of (s, j); padding repeats the run's first row
   * @param outRows {@code [n_g]} int64 valid rows of the padded output, or null when nothing is
   *     padded
   * @param mask {@code [S, 1, Qm, 1, Lk]} fp32: key {@code k} (position {@code keyBase + k}) is
   *     visible to (s, j) when at or before its position; a padding row sees key 0 only, so its
   *     softmax stays finite
   */
  private record Queries(int qMax, NDArray rows, @Nullable NDArray outRows, NDArray mask) {}

  private static Queries queries(
      List<Integer> members,
      List<PagedBatch.Run> runs,
      int[] rowOffset,
      int lk,
      int keyBase,
      NDManager step) {
    int s = members.size();
    int qm = 0;
    for (int i : members) {
      qm = Math.max(qm, runs.get(i).length());
    }
    long[] qRows = new long[s * qm];
    float[] mask = new float[s * qm * lk];
    List<Long> out = new ArrayList<>();
    for (int si = 0; si < s; si++) {
      PagedBatch.Run run = runs.get(members.get(si));
      for (int j = 0; j < qm; j++) {
        boolean real = j < run.length();
        qRows[si * qm + j] = rowOffset[members.get(si)] + (real ? j : 0);
        if (real) {
          out.add((long) (si * qm + j));
        }
        int visible = real ? run.startPosition() + j - keyBase : 0; // last visible key
        int base = (si * qm + j) * lk;
        for (int k = 0; k < lk; k++) {
          mask[base + k] = k <= visible ? 0f : Float.NEGATIVE_INFINITY;
        }
      }
    }
    @Nullable NDArray outRows =
        out.size() < s * qm ? step.create(out.stream().mapToLong(Long::longValue).toArray()) : null;
    return new Queries(
        qm, step.create(qRows), outRows, step.create(mask, new Shape(s, 1, qm, 1, lk)));
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

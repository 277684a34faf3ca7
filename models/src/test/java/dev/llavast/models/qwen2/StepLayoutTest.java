package dev.llavast.models.qwen2;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.llavast.models.RandomWeights;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** How decodes are split into shared-prefix and padded attention groups (host-side plan only). */
class StepLayoutTest {
  static final int BS = 4;

  static PagedBatch.Run decode(int position, int... table) {
    return new PagedBatch.Run(position, 1, table, true);
  }

  static int[] blocks(int from, int count) {
    return IntStream.range(from, from + count).toArray();
  }

  static int[] join(int[] head, int... tail) {
    int[] c = java.util.Arrays.copyOf(head, head.length + tail.length);
    System.arraycopy(tail, 0, c, head.length, tail.length);
    return c;
  }

  static List<Integer> all(List<PagedBatch.Run> runs) {
    return IntStream.range(0, runs.size()).boxed().toList();
  }

  @Test
  void decodesOnOneVideoShareItsPrefixAndAnotherVideoStartsItsOwnGroup() {
    int[] videoA = blocks(100, 40); // 160 keys
    int[] videoB =
        join(new int[] {100}, blocks(300, 39)); // the same system-prompt block, then another video
    List<PagedBatch.Run> runs =
        List.of(
            decode(165, join(videoA, 500, 501)),
            decode(170, join(new int[] {100, 700}, blocks(701, 41))), // shares only the first block
            decode(163, join(videoA, 502)),
            decode(162, join(videoB, 503)),
            decode(167, join(videoA, 504, 505)));
    List<StepLayout.SharedPlan> plans = StepLayout.sharedPlans(all(runs), runs, BS);
    assertThat(plans)
        .containsExactly(
            new StepLayout.SharedPlan(List.of(0, 2, 4), 40),
            new StepLayout.SharedPlan(List.of(3), 40),
            new StepLayout.SharedPlan(List.of(1), 42));
  }

  @Test
  void onlyFullBlocksBeforeEveryQueryAreShared() {
    int[] t = blocks(0, 12);
    // the first query is at position 17: blocks 0..3 are full before it, block 4 is where it writes
    List<PagedBatch.Run> runs = List.of(decode(17, t), decode(45, t));
    assertThat(StepLayout.sharedPlans(all(runs), runs, BS))
        .containsExactly(new StepLayout.SharedPlan(List.of(0, 1), 4));
  }

  @Test
  void shortSharedPrefixesAndLargeGroupsAreSplit() {
    // 3 shared blocks = 12 keys < MIN_SHARED_KEYS: no sharing
    List<PagedBatch.Run> shortRuns =
        List.of(decode(13, join(blocks(0, 3), 7, 8)), decode(13, join(blocks(0, 3), 9, 10)));
    assertThat(StepLayout.sharedPlans(all(shortRuns), shortRuns, BS))
        .extracting(p -> p.members().size())
        .containsExactly(1, 1);
    // a prefix shared by 70 decodes: groups of at most MAX_SHARED_GROUP
    List<PagedBatch.Run> many = new ArrayList<>();
    for (int i = 0; i < 70; i++) {
      many.add(decode(33, join(blocks(0, 8), 100 + i, 200 + i)));
    }
    assertThat(StepLayout.sharedPlans(all(many), many, BS))
        .extracting(p -> p.members().size())
        .containsExactly(StepLayout.MAX_SHARED_GROUP, 70 - StepLayout.MAX_SHARED_GROUP);
  }

  @Test
  void layoutSlicesConsecutivePrefixesGathersScatteredOnesAndPadsTheRest() {
    // shaped like LlavaStModelTest.sharedPrefixDecodesMatchContiguousReference's step, with its
    // prefill chunk
    List<PagedBatch.Run> runs =
        List.of(
            decode(19, 10, 11, 12, 13, 30, 31),
            decode(18, 10, 11, 12, 13, 32, 33),
            new PagedBatch.Run(0, 3, new int[] {50, 51, 52}, false),
            decode(21, 10, 11, 12, 13, 34, 35),
            decode(20, 22, 5, 17, 2, 36, 37),
            decode(23, 22, 5, 17, 2, 38, 39),
            decode(9, 40, 41, 42));
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      StepLayout layout =
          new StepLayout(
              new PagedBatch(BS, runs), 64, RandomWeights.tinyConfig(), m, DataType.FLOAT32);
      // decode groups sit where the first decode is (before the prefill chunk)
      assertThat(layout.groups).hasSize(4);
      StepLayout.Shared slice = (StepLayout.Shared) layout.groups.get(0);
      assertThat(slice.prefixStart()).isEqualTo(10);
      assertThat(slice.prefixBlock()).isNull();
      assertThat(slice.qRows().toLongArray()).containsExactly(0, 1, 5);
      // suffix keys: positions 16..21 at most -> blocks 4 and 5 -> 8 keys
      assertThat(slice.suffixKeys()).isEqualTo(8);
      assertThat(slice.suffixBlock().toLongArray()).containsExactly(30, 30, 32, 32, 34, 35);
      float[] mask =
          slice.suffixMask().toFloatArray(); // [3, 1, 1, 8]: member s sees suffix keys 0..pos-16
      for (int s = 0; s < 3; s++) {
        int visible = new int[] {3, 2, 5}[s];
        for (int k = 0; k < 8; k++) {
          assertThat(mask[s * 8 + k]).isEqualTo(k <= visible ? 0f : Float.NEGATIVE_INFINITY);
        }
      }
      StepLayout.Shared gather = (StepLayout.Shared) layout.groups.get(1);
      assertThat(gather.prefixStart()).isEqualTo(-1);
      assertThat(gather.prefixBlock().toLongArray()).containsExactly(22, 5, 17, 2);
      assertThat(gather.qRows().toLongArray()).containsExactly(6, 7);
      StepLayout.Padded alone = (StepLayout.Padded) layout.groups.get(2);
      assertThat(alone.qRows().toLongArray()).containsExactly(8);
      assertThat(alone.kvStart()).as("blocks 40, 41, 42: read as a slice").isEqualTo(40);
      assertThat(alone.kvBlock()).isNull();
      StepLayout.Padded prefill = (StepLayout.Padded) layout.groups.get(3);
      assertThat(prefill.qMax()).isEqualTo(3);
      assertThat(prefill.qRows().toLongArray()).containsExactly(2, 3, 4);
      // concatenation: shared (rows 0,1,5), shared (6,7), padded (8), prefill (2,3,4); back to
      // input order
      assertThat(layout.reorder.toLongArray()).containsExactly(0, 1, 6, 7, 8, 2, 3, 4, 5);
    }
  }

  @Test
  void prefillChunksOnOnePrefixShareItWithACausalSuffixMask() {
    // two questions on one 16-token prefix: chunks of 3 and 2 tokens from position 18 and 16
    List<PagedBatch.Run> runs =
        List.of(
            new PagedBatch.Run(18, 3, new int[] {10, 11, 12, 13, 30, 31}, true),
            decode(40, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20),
            new PagedBatch.Run(16, 2, new int[] {10, 11, 12, 13, 32}, true));
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      StepLayout layout =
          new StepLayout(
              new PagedBatch(BS, runs), 64, RandomWeights.tinyConfig(), m, DataType.FLOAT32);
      assertThat(layout.groups).hasSize(2);
      // the decode, alone: blocks 0..9 read in place, then block 20 gathered
      StepLayout.Shared decode = (StepLayout.Shared) layout.groups.get(0);
      assertThat(decode.seqs()).isEqualTo(1);
      assertThat(decode.prefixStart()).isZero();
      assertThat(decode.prefixBlocks()).isEqualTo(10);
      assertThat(decode.suffixBlock().toLongArray()).containsExactly(20);
      StepLayout.Shared sh = (StepLayout.Shared) layout.groups.get(1);
      assertThat(sh.qMax()).isEqualTo(3);
      assertThat(sh.prefixBlocks()).isEqualTo(4);
      assertThat(sh.qRows().toLongArray()).containsExactly(0, 1, 2, 4, 5, 4);
      assertThat(sh.outRows().toLongArray()).containsExactly(0, 1, 2, 3, 4);
      // suffix: member 0 keys 16..20 (blocks 30, 31), member 1 keys 16..17 (block 32, padded with
      // 32)
      assertThat(sh.suffixKeys()).isEqualTo(8);
      assertThat(sh.suffixBlock().toLongArray()).containsExactly(30, 31, 32, 32);
      float[] mask = sh.suffixMask().toFloatArray(); // [2, 1, 1, 3, 8]
      int[][] visible = {
        {2, 3, 4}, {0, 1, 0}
      }; // last visible suffix key of (s, j); padding row sees key 0
      for (int s = 0; s < 2; s++) {
        for (int j = 0; j < 3; j++) {
          for (int k = 0; k < 8; k++) {
            assertThat(mask[(s * 3 + j) * 8 + k])
                .as("s=%d j=%d k=%d", s, j, k)
                .isEqualTo(k <= visible[s][j] ? 0f : Float.NEGATIVE_INFINITY);
          }
        }
      }
      // concatenation: decode (row 3), shared (rows 0, 1, 2, 4, 5)
      assertThat(layout.reorder.toLongArray()).containsExactly(1, 2, 3, 0, 4, 5);
    }
  }

  @Test
  void aRunAloneReadsItsConsecutiveLeadInPlaceOnlyWhenItIsLongAndTheContextGoesElsewhere() {
    // 4 consecutive blocks (16 keys) then scattered: a one-run split
    assertThat(StepLayout.loneSplit(decode(22, join(blocks(40, 4), 7, 3)), BS)).isEqualTo(4);
    // the block being written continues the stretch: the whole context is one slice
    assertThat(StepLayout.loneSplit(decode(19, join(blocks(40, 5), 9)), BS)).isZero();
    // the next one does not: the 5 full blocks before the query are read in place
    assertThat(StepLayout.loneSplit(decode(21, join(blocks(40, 5), 9)), BS)).isEqualTo(5);
    // 3 blocks = 12 keys: too short to be worth two attention parts
    assertThat(StepLayout.loneSplit(decode(22, join(blocks(40, 3), 7, 3, 9)), BS)).isZero();
    // consecutive to the end: a padded group reads it as one slice already
    assertThat(StepLayout.loneSplit(decode(22, blocks(40, 6)), BS)).isZero();
    // scattered from the start
    assertThat(StepLayout.loneSplit(decode(22, 9, 2, 40, 41, 42, 43), BS)).isZero();
  }

  @Test
  void decodesArePaddedWithSimilarContextsAndWithinTheGatherBudget() {
    // tiny config: 2 KV heads x 8 dims = 16 K elements a key; CPU gather budget 2^20 / 4 = 262,144
    // elements = 16,384 keys: four 4,004-key contexts fit in one group, a fifth does not
    List<PagedBatch.Run> runs = new ArrayList<>();
    for (int i = 0; i < 15; i++) {
      runs.add(
          i % 3 == 0
              ? decode(4000, blocks(1100 * (i / 3), 1001)) // 4,004 keys
              : decode(30, blocks(6000 + 8 * i, 8))); // 32 keys
    }
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
      StepLayout layout =
          new StepLayout(
              new PagedBatch(BS, runs), 7000, RandomWeights.tinyConfig(), m, DataType.FLOAT32);
      // short contexts first (8 + 2), then the long ones (4 + 1): a short one is never padded to
      // 4,004 keys
      assertThat(layout.groups)
          .extracting(g -> ((StepLayout.Padded) g).kMax())
          .containsExactly(32, 32, 4004, 4004);
      assertThat(layout.groups)
          .extracting(g -> ((StepLayout.Padded) g).seqs())
          .containsExactly(StepLayout.MAX_DECODE_GROUP, 10 - StepLayout.MAX_DECODE_GROUP, 4, 1);
    }
  }
}

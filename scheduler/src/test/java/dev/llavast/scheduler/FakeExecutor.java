package dev.llavast.scheduler;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A deterministic model stand-in that really uses the scheduler's KV block tables.
 *
 * <p>Each computed position writes an "embedding" (a 64-bit mix of the token id, or of the media
 * key and feature row for visual positions, or of the value for value tokens) into the KV slot that
 * the block table names. Sampling reads the whole history back through the block table and returns
 * {@code hash(history) mod vocab}. So a wrong block table, a wrongly reused prefix block, or a
 * block overwritten while still in use changes the tokens, and {@link #expected} (computed without
 * any KV) tells the right answer. Reading a slot that was never written fails the step.
 *
 * <p>Called by one worker thread; the recorded plans may be read by the test after the worker is
 * quiescent (manual stepping) or stopped.
 */
final class FakeExecutor implements ModelExecutor {
  static final int VOCAB = 50_000;

  private final ExecutorSpec spec;
  private long[][] kv;
  private boolean[][] written;
  private int blockSize;
  final List<List<StepRecord>> plans = Collections.synchronizedList(new ArrayList<>());
  final List<String> events = Collections.synchronizedList(new ArrayList<>());
  final AtomicInteger encodes = new AtomicInteger();
  final AtomicInteger closes = new AtomicInteger();
  volatile Predicate<StepPlan> failWhen = p -> false;

  /** Samples of the sequence steps it accepts fail on their own (the rest of the step succeeds). */
  volatile Predicate<SequenceStep> failSampleWhen = s -> false;

  volatile Predicate<PreparedMedia> failEncodeWhen = m -> false;
  volatile Runnable onStep = () -> {};

  /** Runs at every slice of a sliced encode (a test advances its clock here). */
  volatile Runnable onSlice = () -> {};

  volatile boolean throwError;
  static volatile boolean failAllocate;

  /** Slices of one encode task; 1 keeps the default (the whole {@link #encode} as one slice). */
  volatile int encodeSlices = 1;

  /** Encode tasks started and closed. */
  final AtomicInteger encodeTasksOpen = new AtomicInteger();

  /** Return one sampled token too few (a broken executor). */
  volatile boolean dropOneSample;

  /** What one sequence did in one step. */
  record StepRecord(long sequenceId, int start, int length, boolean sample, boolean prefill) {}

  FakeExecutor(int maxContext) {
    this(new ExecutorSpec("fake:0", maxContext, 1, -1));
  }

  FakeExecutor(ExecutorSpec spec) {
    this.spec = spec;
  }

  @Override
  public ExecutorSpec spec() {
    return spec;
  }

  @Override
  public void allocateKvCache(int numBlocks, int blockSize) {
    if (failAllocate) {
      throw new IllegalStateException("injected: no memory for " + numBlocks + " blocks");
    }
    kv = new long[numBlocks][blockSize];
    written = new boolean[numBlocks][blockSize];
    this.blockSize = blockSize;
  }

  @Override
  public MediaFeatures encode(PreparedMedia media) {
    encodes.incrementAndGet();
    events.add("encode:" + media.mediaKey());
    if (failEncodeWhen.test(media)) {
      throw new ExecutorException("injected encode failure for " + media.mediaKey());
    }
    return new FakeFeatures(media.mediaKey(), ((FakeMedia) media).tokens());
  }

  @Override
  public EncodeTask startEncode(PreparedMedia media) {
    int slices = encodeSlices;
    if (slices <= 1) {
      return ModelExecutor.super.startEncode(media);
    }
    encodeTasksOpen.incrementAndGet();
    return new EncodeTask() {
      int done;
      boolean closed;

      @Override
      public MediaFeatures advance() {
        events.add("slice:" + media.mediaKey() + ":" + done);
        onSlice.run();
        if (++done < slices) {
          return null;
        }
        return encode(media);
      }

      @Override
      public void close() {
        if (!closed) {
          closed = true;
          encodeTasksOpen.decrementAndGet();
        }
      }
    };
  }

  @Override
  public StepResult step(StepPlan plan) {
    onStep.run();
    List<StepRecord> rec = new ArrayList<>();
    for (SequenceStep s : plan.sequences()) {
      rec.add(
          new StepRecord(
              s.sequenceId(), s.startPosition(), s.tokenIds().length, s.sample(), s.isPrefill()));
    }
    plans.add(rec);
    events.add("step");
    if (throwError) {
      throw new AssertionError("injected fatal error");
    }
    if (failWhen.test(plan)) {
      throw new ExecutorException("injected step failure");
    }
    if (plan.blockSize() != blockSize) {
      throw new IllegalStateException("block size " + plan.blockSize() + " != " + blockSize);
    }
    int samples = 0;
    for (SequenceStep s : plan.sequences()) {
      if (s.sample()) {
        samples++;
      }
    }
    int[] out = new int[samples];
    float[] lps = new float[samples];
    String[] failures = null;
    int r = 0;
    for (SequenceStep s : plan.sequences()) {
      int end = s.startPosition() + s.tokenIds().length;
      if (s.blockTable().length * blockSize < end) {
        throw new IllegalStateException(
            "block table of " + s.sequenceId() + " too short for " + end + " positions");
      }
      for (int j = 0; j < s.tokenIds().length; j++) {
        int pos = s.startPosition() + j;
        int b = s.blockTable()[pos / blockSize];
        kv[b][pos % blockSize] = embedding(s.prompt(), pos, s.tokenIds()[j]);
        written[b][pos % blockSize] = true;
      }
      if (s.sample()) {
        long h = 17;
        for (int pos = 0; pos < end; pos++) {
          int b = s.blockTable()[pos / blockSize];
          if (!written[b][pos % blockSize]) {
            throw new IllegalStateException(
                "sequence " + s.sequenceId() + " reads unwritten slot at position " + pos);
          }
          h = BlockHasher.mix(h ^ kv[b][pos % blockSize]);
        }
        out[r] = (int) Math.floorMod(h, (long) VOCAB);
        lps[r] = -0.5f;
        if (failSampleWhen.test(s)) {
          failures = failures == null ? new String[samples] : failures;
          failures[r] = "injected sample failure";
          out[r] = -1;
        }
        r++;
      }
    }
    if (dropOneSample) {
      return new StepResult(
          java.util.Arrays.copyOf(out, samples - 1), java.util.Arrays.copyOf(lps, samples - 1));
    }
    return new StepResult(out, lps, failures);
  }

  @Override
  public void close() {
    closes.incrementAndGet();
  }

  /** What position {@code pos} contributes to the history. */
  static long embedding(PromptInput prompt, int pos, int tokenId) {
    if (pos < prompt.length()) {
      for (PromptInput.VisualSpan v : prompt.visualSpans()) {
        if (pos >= v.start() && pos < v.start() + v.length()) {
          return BlockHasher.mix(
              BlockHasher.stringHash(v.features().mediaKey())
                  + v.featureOffset()
                  + pos
                  - v.start());
        }
      }
      for (PromptInput.ValueToken v : prompt.valueTokens()) {
        if (v.position() == pos) {
          return BlockHasher.mix(0x5555L ^ Float.floatToIntBits(v.value()));
        }
      }
    }
    return BlockHasher.mix(tokenId + 0x1234L);
  }

  /** The tokens a request must produce (stop token excluded), computed directly from the prompt. */
  static List<Integer> expected(PromptInput prompt, SamplingParams sampling) {
    List<Long> history = new ArrayList<>();
    for (int p = 0; p < prompt.length(); p++) {
      history.add(embedding(prompt, p, prompt.tokenIds()[p]));
    }
    List<Integer> out = new ArrayList<>();
    for (int n = 0; n < sampling.maxNewTokens(); n++) {
      long h = 17;
      for (long e : history) {
        h = BlockHasher.mix(h ^ e);
      }
      int t = (int) Math.floorMod(h, (long) VOCAB);
      if (sampling.isStopToken(t)) {
        break;
      }
      out.add(t);
      history.add(embedding(prompt, prompt.length() + n, t));
    }
    return out;
  }
}

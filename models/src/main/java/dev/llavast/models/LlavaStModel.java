package dev.llavast.models;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.llavast.models.lape.CoordinateLerp;
import dev.llavast.models.lape.ExtendedVocab;
import dev.llavast.models.lape.Lape;
import dev.llavast.models.nn.OpTimer;
import dev.llavast.models.nn.Weights;
import dev.llavast.models.packer.SpatialTemporalPacker;
import dev.llavast.models.projector.Projector;
import dev.llavast.models.qwen2.PagedBatch;
import dev.llavast.models.qwen2.Qwen2Model;
import dev.llavast.models.sampling.CoordinateGrammar;
import dev.llavast.models.sampling.DeviceSampler;
import dev.llavast.models.sampling.Sampler;
import dev.llavast.models.sampling.TokenMask;
import dev.llavast.models.siglip.SiglipEncoder;
import dev.llavast.scheduler.EncodeTask;
import dev.llavast.scheduler.ExecutorException;
import dev.llavast.scheduler.ExecutorSpec;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.ModelExecutor;
import dev.llavast.scheduler.PreparedMedia;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * LLaVA-ST on one device: SigLIP -> projector -> LAPE -> STP for {@link #encode}, and batched,
 * paged Qwen2 steps with the extended (V + 3·bins) vocabulary for {@link #step}.
 *
 * <p>All weights, the precomputed extended embedding table and head, and the KV pool live in one
 * long-lived NDManager for the device (fp32 on CPU). Every encode and step runs in a sub-manager
 * that is closed before the call returns; {@link #liveArrayCount()} lets tests check that.
 *
 * <p>Threading: as {@link ModelExecutor}: {@link #spec()} and {@link #liveArrayCount()} from any
 * thread, everything else from the device's worker thread only (the constructor may run on another
 * thread; each call turns grad mode off on its own thread).
 */
public final class LlavaStModel implements ModelExecutor {

  /**
   * Ids of the six value-slot tokens (from the tokenizer; never hard-coded). A {@link
   * PromptInput.ValueToken} must sit on one of them.
   */
  public record ValueTokenIds(
      int tempInput,
      int tempOutput,
      int heightInput,
      int heightOutput,
      int widthInput,
      int widthOutput) {}

  /**
   * Construction options.
   *
   * @param valueTokenIds the value-slot ids
   * @param fixWidthInput false (default) reproduces the release: a {@code <WIDTH-INPUT>} keeps its
   *     plain embedding and its value is ignored; true lerps it over the width input table like the
   *     others
   * @param visionChunkFrames frames per SigLIP chunk (bounds encode memory)
   * @param computeDtype FLOAT32 or FLOAT16, or null for the device default (fp32 on CPU, fp16 on
   *     GPU)
   * @param cpuThreads PyTorch intra-op threads to set (process-wide) when the device is the CPU; 0
   *     keeps the engine default. On an oversubscribed host, 1 avoids OpenMP threads spinning
   *     against each other (measured here: a tiny decode step 145 ms with 2 threads, 2-9 ms with 1)
   * @param grammar the tokenizer's coordinate grammar, for requests with an output constraint; null
   *     refuses such requests (their step fails)
   * @param attentionFp32 whether the LLM's attention scores ({@code q·kᵀ}) are computed in fp32
   *     when the compute dtype is fp16 (fp16 scores of Qwen2-7B overflow to NaN on some inputs);
   *     null for the default, on for fp16. No effect in fp32
   * @param maxDecodeGroup most single-token decodes attended in one padded group; 0 for the device
   *     default ({@link #CPU_DECODE_GROUP} on CPU, where a group copies its members' whole
   *     contexts; unbounded on a GPU, where each group costs kernel launches)
   * @param hostSampling true picks every token on the host from the copied logits (the path before
   *     device sampling; kept for comparison); false (default) picks greedy, top-k and top-p tokens
   *     on the device and only rows with a penalty or a constraint on the host
   */
  public record Options(
      ValueTokenIds valueTokenIds,
      boolean fixWidthInput,
      int visionChunkFrames,
      @Nullable DataType computeDtype,
      int cpuThreads,
      @Nullable CoordinateGrammar grammar,
      @Nullable Boolean attentionFp32,
      int maxDecodeGroup,
      boolean hostSampling) {
    public Options {
      if (cpuThreads < 0) {
        throw new IllegalArgumentException("cpuThreads must be >= 0, got " + cpuThreads);
      }
      Objects.requireNonNull(valueTokenIds, "valueTokenIds");
      if (visionChunkFrames <= 0) {
        throw new IllegalArgumentException(
            "visionChunkFrames must be > 0, got " + visionChunkFrames);
      }
      if (computeDtype != null
          && computeDtype != DataType.FLOAT32
          && computeDtype != DataType.FLOAT16) {
        throw new IllegalArgumentException(
            "computeDtype must be FLOAT32 or FLOAT16, got " + computeDtype);
      }
      if (maxDecodeGroup < 0) {
        throw new IllegalArgumentException(
            "maxDecodeGroup must be >= 0 (0: the device default), got " + maxDecodeGroup);
      }
    }

    /** Options with the default attention, decode grouping and device sampling. */
    public Options(
        ValueTokenIds valueTokenIds,
        boolean fixWidthInput,
        int visionChunkFrames,
        @Nullable DataType computeDtype,
        int cpuThreads,
        @Nullable CoordinateGrammar grammar) {
      this(
          valueTokenIds,
          fixWidthInput,
          visionChunkFrames,
          computeDtype,
          cpuThreads,
          grammar,
          null,
          0,
          false);
    }

    /** Options without a coordinate grammar. */
    public Options(
        ValueTokenIds valueTokenIds,
        boolean fixWidthInput,
        int visionChunkFrames,
        @Nullable DataType computeDtype,
        int cpuThreads) {
      this(valueTokenIds, fixWidthInput, visionChunkFrames, computeDtype, cpuThreads, null);
    }

    /** Release behaviour (width-input quirk kept), 10-frame vision chunks, device-default dtype. */
    public static Options defaults(ValueTokenIds ids) {
      return new Options(ids, false, 10, null, 0);
    }

    /** A copy with {@code computeDtype} changed. */
    public Options withComputeDtype(DataType dtype) {
      return new Options(
          valueTokenIds,
          fixWidthInput,
          visionChunkFrames,
          dtype,
          cpuThreads,
          grammar,
          attentionFp32,
          maxDecodeGroup,
          hostSampling);
    }

    /** A copy with {@code attentionFp32} changed (null: the default). */
    public Options withAttentionFp32(@Nullable Boolean on) {
      return new Options(
          valueTokenIds,
          fixWidthInput,
          visionChunkFrames,
          computeDtype,
          cpuThreads,
          grammar,
          on,
          maxDecodeGroup,
          hostSampling);
    }

    /** A copy with {@code maxDecodeGroup} changed (0: the device default). */
    public Options withMaxDecodeGroup(int n) {
      return new Options(
          valueTokenIds,
          fixWidthInput,
          visionChunkFrames,
          computeDtype,
          cpuThreads,
          grammar,
          attentionFp32,
          n,
          hostSampling);
    }

    /** A copy with {@code hostSampling} changed. */
    public Options withHostSampling(boolean on) {
      return new Options(
          valueTokenIds,
          fixWidthInput,
          visionChunkFrames,
          computeDtype,
          cpuThreads,
          grammar,
          attentionFp32,
          maxDecodeGroup,
          on);
    }
  }

  /** Decodes per padded attention group on CPU (see {@link Options#maxDecodeGroup}). */
  public static final int CPU_DECODE_GROUP = 8;

  /**
   * Packed features in host memory: {@code [tokenCount, hidden]} fp32 row-major (video: the
   * (F/5)·81 slow STP tokens, 1 620 for the release; image: the G² = 729 LAPE-injected projector
   * tokens). Immutable by contract; any thread.
   */
  public record Features(String mediaKey, boolean video, int tokenCount, int hidden, float[] data)
      implements MediaFeatures {
    public Features {
      Objects.requireNonNull(mediaKey, "mediaKey");
      if ((long) tokenCount * hidden != data.length) {
        throw new IllegalArgumentException(
            "features must hold [" + tokenCount + ", " + hidden + "] floats, got " + data.length);
      }
    }

    @Override
    public long bytes() {
      return 4L * data.length;
    }
  }

  private final ModelConfig cfg;
  private final Options options;
  private final Device device;
  private final DataType dtype;
  private final NDManager manager;
  private final SiglipEncoder siglip;
  private final Projector projector;
  private final Lape lape;
  private final SpatialTemporalPacker packer;
  private final ExtendedVocab vocab;
  private final Qwen2Model llm;
  private final ExecutorSpec spec;
  private final LongAdder forcedTokens = new LongAdder();
  private final LongAdder nonFiniteLogits = new LongAdder();

  /**
   * Loads every weight onto {@code device}.
   *
   * @throws IllegalArgumentException if a tensor is missing or mis-shaped (the message names it)
   */
  public LlavaStModel(ModelConfig cfg, TensorSource weights, Device device, Options options) {
    this.cfg = Objects.requireNonNull(cfg, "cfg");
    this.options = Objects.requireNonNull(options, "options");
    this.device = Objects.requireNonNull(device, "device");
    this.dtype =
        options.computeDtype() != null
            ? options.computeDtype()
            : device.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
    this.manager = NDManager.newBaseManager(device, "PyTorch");
    JniUtils.setGradMode(false);
    if (options.cpuThreads() > 0 && !device.isGpu()) {
      JniUtils.setNumThreads(options.cpuThreads());
    }
    try {
      Weights w = new Weights(weights, manager, dtype);
      this.siglip = SiglipEncoder.load(cfg, w);
      this.projector = Projector.load(cfg, w);
      this.lape = Lape.load(cfg, w);
      this.packer = SpatialTemporalPacker.load(cfg, w);
      this.vocab = ExtendedVocab.load(cfg, w);
      this.llm =
          Qwen2Model.load(
              cfg,
              w,
              new Qwen2Model.Settings(
                  options.attentionFp32() != null
                      ? options.attentionFp32()
                      : dtype == DataType.FLOAT16,
                  options.maxDecodeGroup() > 0
                      ? options.maxDecodeGroup()
                      : device.isGpu() ? Integer.MAX_VALUE : CPU_DECODE_GROUP));
      w.finish();
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
    this.spec =
        new ExecutorSpec(
            device.toString(),
            cfg.maxPositionEmbeddings(),
            cfg.kvBytesPerToken(dtype.getNumOfBytes()),
            -1L);
  }

  public ModelConfig config() {
    return cfg;
  }

  public DataType computeDtype() {
    return dtype;
  }

  @Override
  public ExecutorSpec spec() {
    return spec;
  }

  /**
   * NDArrays currently alive in this model's manager tree (weights + KV pool at rest). Any thread.
   */
  public int liveArrayCount() {
    return manager.getManagedArrays().size();
  }

  @Override
  public void allocateKvCache(int numBlocks, int blockSize) {
    JniUtils.setGradMode(false);
    if (options.cpuThreads() > 0 && !device.isGpu()) {
      // Again on the worker thread, which runs every op from here on: part of the setting is
      // per thread (MKL's thread count is thread-local), and the constructor ran on another one.
      JniUtils.setNumThreads(options.cpuThreads());
    }
    llm.allocateKvCache(numBlocks, blockSize);
  }

  // ------------------------------------------------------------------------------------------
  // encode

  @Override
  public MediaFeatures encode(PreparedMedia media) {
    return encode(media, OpTimer.NONE);
  }

  /** {@link #encode(PreparedMedia)} with every stage and op timed into {@code timer}. */
  public MediaFeatures encode(PreparedMedia media, OpTimer timer) {
    try (VisionEncode task = new VisionEncode(media, timer)) {
      MediaFeatures f;
      while ((f = task.advance()) == null) {
        // next slice
      }
      return f;
    }
  }

  /**
   * Runs one SigLIP layer (or the embedding, the projector, or LAPE + spatial packing) of one chunk
   * of frames per slice, so that a worker interleaves a long encode with decode steps.
   */
  @Override
  public EncodeTask startEncode(PreparedMedia media) {
    return new VisionEncode(media, OpTimer.NONE);
  }

  /**
   * One media's encode as a sequence of slices: for each chunk of {@code visionChunkFrames} frames,
   * the patch embedding, then each SigLIP layer, then the projector, then LAPE and the STP spatial
   * stage; after the last chunk, the STP slow stage and the copy to host memory. Owns a sub-manager
   * of the device's manager holding the current chunk's activations and the packed chunks done so
   * far; closing it releases them. Worker thread only.
   */
  private final class VisionEncode implements EncodeTask {
    private final PixelFrames px;
    private final OpTimer timer;
    private final NDManager enc;
    private final List<NDArray> stageA = new ArrayList<>(); // each [n, S_A, C]
    private final int frames;
    private final int layers;
    private int t0; // first frame of the current chunk
    private int stage; // 0: embed, 1..layers: layer stage-1, layers+1: projector, then LAPE+STP
    private @Nullable NDManager chunkManager; // the current chunk's activations
    private @Nullable NDArray x; // current chunk: [n, G², Cv] in SigLIP, [n, G², C] after projector
    private float @Nullable [] imageOut;
    private boolean finished;

    VisionEncode(PreparedMedia media, OpTimer timer) {
      this.px = checkedPixels(media);
      this.timer = timer;
      this.frames = px.frames();
      this.layers = siglip.numLayers();
      this.enc = manager.newSubManager();
    }

    private NDManager chunk() {
      if (chunkManager == null) {
        throw new IllegalStateException("no chunk of " + px.mediaKey() + " in progress");
      }
      return chunkManager;
    }

    private NDArray current() {
      if (x == null) {
        throw new IllegalStateException("no chunk of " + px.mediaKey() + " in progress");
      }
      return x;
    }

    @Override
    public @Nullable MediaFeatures advance() {
      if (finished) {
        throw new IllegalStateException("encode of " + px.mediaKey() + " already finished");
      }
      JniUtils.setGradMode(false);
      try {
        if (t0 >= frames) {
          finished = true;
          return finish();
        }
        int n = Math.min(options.visionChunkFrames(), frames - t0);
        if (stage == 0) {
          chunkManager = enc.newSubManager();
          long t = timer.start();
          int s = px.size();
          int frameFloats = 3 * s * s;
          float[] chunk = Arrays.copyOfRange(px.pixels(), t0 * frameFloats, (t0 + n) * frameFloats);
          NDArray pix = toDtype(chunkManager.create(chunk, new Shape(n, 3, s, s))); // [n, 3, S, S]
          timer.stop("pixels.upload", t);
          x = siglip.embed(pix, timer); // [n, G², Cv]
          pix.close();
        } else if (stage <= layers) {
          NDArray next = siglip.applyLayer(stage - 1, current(), chunk(), timer); // [n, G², Cv]
          current().close();
          x = next;
        } else if (stage == layers + 1) {
          long t = timer.start();
          NDArray p = projector.forward(current()); // [n, G², C]
          current().close();
          x = p;
          timer.stop("projector", t);
        } else {
          head();
          chunk().close();
          chunkManager = null;
          x = null;
          stage = 0;
          t0 += n;
          return null;
        }
        stage++;
        return null;
      } catch (ExecutorException e) {
        finished = true;
        throw e;
      } catch (RuntimeException e) {
        finished = true;
        throw new ExecutorException("encoding " + px.mediaKey() + " failed: " + e.getMessage(), e);
      }
    }

    /** LAPE and the STP spatial stage of the current chunk ({@code x}: projector output). */
    private void head() {
      long t = timer.start();
      NDArray l = lape.inject(current(), px.video() ? t0 : 0); // [n, G², C]
      t = lap("lape", t);
      if (px.video()) {
        NDArray a = packer.spatial(l); // [n, S_A, C]
        a.attach(enc);
        stageA.add(a);
        lap("stp.spatial", t);
      } else {
        imageOut = hostFloats(l); // [G², C]
        lap("host_copy", t);
      }
    }

    private MediaFeatures finish() {
      ModelConfig.VisionConfig vc = cfg.vision();
      if (!px.video()) {
        return new Features(
            px.mediaKey(),
            false,
            vc.numPatches(),
            cfg.hiddenSize(),
            Objects.requireNonNull(imageOut, "the image's one chunk ran"));
      }
      long t = timer.start();
      NDArray all =
          stageA.size() == 1
              ? stageA.get(0)
              : NDArrays.concat(new NDList(stageA), 0); // [F, S_A, C]
      NDArray slow = packer.slow(all); // [F/5·S_A, C]
      t = lap("stp.slow", t);
      float[] data = hostFloats(slow);
      lap("host_copy", t);
      return new Features(
          px.mediaKey(), true, (int) slow.getShape().get(0), cfg.hiddenSize(), data);
    }

    private long lap(String op, long started) {
      timer.stop(op, started);
      return timer.start();
    }

    @Override
    public void close() {
      finished = true;
      enc.close();
    }
  }

  private PixelFrames checkedPixels(PreparedMedia media) {
    if (!(media instanceof PixelFrames px)) {
      throw new ExecutorException(
          "LlavaStModel encodes PixelFrames, got "
              + (media == null ? "null" : media.getClass().getName()));
    }
    ModelConfig.VisionConfig vc = cfg.vision();
    int expectedFrames = px.video() ? cfg.numFrames() : 1;
    if (px.size() != vc.imageSize() || px.frames() != expectedFrames) {
      throw new ExecutorException(
          "media "
              + px.mediaKey()
              + " has "
              + px.frames()
              + " frames of "
              + px.size()
              + " px; expected "
              + expectedFrames
              + " frames of "
              + vc.imageSize()
              + " px");
    }
    return px;
  }

  // --------------------------------------------------------------------------------------------
  // step

  @Override
  public StepResult step(StepPlan plan) {
    JniUtils.setGradMode(false);
    List<SequenceStep> seqs = plan.sequences();
    if (seqs.isEmpty()) {
      return new StepResult(new int[0], null);
    }
    try (NDManager step = manager.newSubManager()) {
      NDArray lg = forwardLogits(plan, step); // [M, V + 3 bins] or null
      List<SequenceStep> sampling = new ArrayList<>();
      for (SequenceStep s : seqs) {
        if (s.sample()) {
          sampling.add(s);
        }
      }
      return lg == null ? new StepResult(new int[0], null) : pick(sampling, lg, step);
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new ExecutorException("step rejected: " + e.getMessage(), e);
    } catch (ExecutorException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new ExecutorException("step failed: " + e.getMessage(), e);
    }
  }

  /**
   * One token per row of {@code lg} ({@code [M, W]}, row k for {@code sampling.get(k)}): forced by
   * the constraint when it allows one id; else on the device ({@link DeviceSampler}) unless the row
   * needs a repetition penalty or a constraint mask (or {@link Options#hostSampling}), which copy
   * only their rows to the host ({@link Sampler}). Every row's logits are checked: a non-finite row
   * fails its sequence alone ({@link StepResult#failures}) and its K/V of this step are cleared.
   */
  private StepResult pick(List<SequenceStep> sampling, NDArray lg, NDManager step) {
    int m = sampling.size();
    int width = (int) lg.getShape().get(1);
    int[] ids = new int[m];
    boolean anyLogprobs = false;
    SamplingParams[] onDevice = new SamplingParams[m];
    int[] counts = new int[m];
    TokenMask[] masks = new TokenMask[m];
    List<Integer> hostRows = new ArrayList<>();
    for (int k = 0; k < m; k++) {
      SequenceStep s = sampling.get(k);
      SamplingParams p = s.sampling();
      anyLogprobs |= p.logprobs();
      int[] generated = s.generated() == null ? new int[0] : s.generated();
      counts[k] = generated.length;
      masks[k] = constraintMask(p, generated);
      ids[k] = masks[k] == null ? -1 : masks[k].single();
      if (ids[k] >= 0) {
        continue; // the grammar leaves one id (e.g. the bracket after a box's last value)
      }
      if (options.hostSampling() || masks[k] != null || p.repetitionPenalty() != 1f) {
        hostRows.add(k);
      } else {
        onDevice[k] = p;
      }
    }
    DeviceSampler.Picks picks = DeviceSampler.pick(lg, onDevice, counts); // checks every row
    float @Nullable [] lps = anyLogprobs ? new float[m] : null;
    for (int k = 0; k < m; k++) {
      if (onDevice[k] != null) {
        ids[k] = picks.tokenIds()[k];
        if (lps != null) {
          lps[k] = onDevice[k].logprobs() ? picks.logprobs()[k] : Float.NaN;
        }
      } else if (ids[k] >= 0) {
        forcedTokens.increment();
        if (lps != null) {
          lps[k] = sampling.get(k).sampling().logprobs() ? 0f : Float.NaN;
        }
      }
    }
    if (!hostRows.isEmpty()) {
      long[] rows = hostRows.stream().mapToLong(Integer::longValue).toArray();
      float[] flat;
      try (NDArray idx = step.create(rows); // [Mh]
          NDArray sub = lg.get(new NDIndex("{}", idx))) { // [Mh, W]
        flat = hostFloats(sub);
      }
      for (int r = 0; r < rows.length; r++) {
        int k = (int) rows[r];
        SequenceStep s = sampling.get(k);
        if (!picks.finite()[k]) {
          continue;
        }
        int[] generated = s.generated() == null ? new int[0] : s.generated();
        Sampler.Sample pick =
            Sampler.sample(
                flat, r * width, vocab.extendedSize(), s.sampling(), generated, masks[k]);
        ids[k] = pick.tokenId();
        if (lps != null) {
          lps[k] = s.sampling().logprobs() ? pick.logprob() : Float.NaN;
        }
      }
    }
    String[] failures = null;
    for (int k = 0; k < m; k++) {
      if (picks.finite()[k]) {
        continue;
      }
      SequenceStep s = sampling.get(k);
      failures = failures == null ? new String[m] : failures;
      failures[k] =
          "the model's logits for position "
              + (s.startPosition() + s.tokenIds().length - 1)
              + " are not finite (NaN or infinity); on fp16, --attention-fp32 computes attention"
              + " scores in fp32";
      ids[k] = -1;
      nonFiniteLogits.increment();
      clearWritten(s, step);
    }
    return new StepResult(ids, lps, failures);
  }

  /** Zeroes the K/V slots this step wrote for {@code s} (its logits were not finite). */
  private void clearWritten(SequenceStep s, NDManager step) {
    int bs = llm.blockSize();
    int n = s.tokenIds().length;
    long[] blocks = new long[n];
    long[] slots = new long[n];
    for (int j = 0; j < n; j++) {
      int p = s.startPosition() + j;
      blocks[j] = s.blockTable()[p / bs];
      slots[j] = p % bs;
    }
    llm.clearSlots(blocks, slots, step);
  }

  /**
   * The ids a constrained sequence may sample next; null for an unconstrained one. Worker thread.
   */
  private @Nullable TokenMask constraintMask(SamplingParams p, int[] generated) {
    if (p.constraint().isNone()) {
      return null;
    }
    if (options.grammar() == null) {
      throw new ExecutorException(
          "this executor was built without a coordinate grammar; it cannot honour "
              + p.constraint().kind());
    }
    return options.grammar().mask(p.constraint(), generated, p.maxNewTokens(), p.stopTokenIds());
  }

  /** Tokens emitted without sampling because a constraint allowed only one id. Any thread. */
  public long forcedTokens() {
    return forcedTokens.sum();
  }

  /** Sequences whose logits were not finite, each failed alone. Any thread. */
  public long nonFiniteLogits() {
    return nonFiniteLogits.sum();
  }

  /**
   * Runs the batch and returns the fp32 logits {@code [V + 3·bins]} of every sequence step that
   * samples, in plan order, copied to the host (for tests). Worker thread only.
   */
  float[][] stepLogits(StepPlan plan) {
    JniUtils.setGradMode(false);
    if (plan.sequences().isEmpty()) {
      return new float[0][];
    }
    try (NDManager step = manager.newSubManager()) {
      NDArray lg = forwardLogits(plan, step); // [M, V + 3 bins]
      if (lg == null) {
        return new float[0][];
      }
      int m = (int) lg.getShape().get(0);
      int width = (int) lg.getShape().get(1);
      float[] flat = hostFloats(lg);
      float[][] rows = new float[m][];
      for (int i = 0; i < m; i++) {
        rows[i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
      }
      return rows;
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new ExecutorException("step rejected: " + e.getMessage(), e);
    } catch (ExecutorException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new ExecutorException("step failed: " + e.getMessage(), e);
    }
  }

  /**
   * Runs the batch on the device.
   *
   * @return the logits {@code [M, V + 3 bins]} in the compute dtype of the M sequence steps that
   *     sample, in plan order, owned by {@code step}; null when none samples
   */
  private @Nullable NDArray forwardLogits(StepPlan plan, NDManager step) {
    List<SequenceStep> seqs = plan.sequences();
    NDArray x = embed(seqs, step); // [N, C]
    List<PagedBatch.Run> runs = new ArrayList<>(seqs.size());
    for (SequenceStep s : seqs) {
      runs.add(
          new PagedBatch.Run(s.startPosition(), s.tokenIds().length, s.blockTable(), s.sample()));
    }
    NDArray hidden = llm.forward(x, new PagedBatch(plan.blockSize(), runs), step); // [M, C]
    return hidden == null ? null : vocab.logits(hidden); // [M, V + 3 bins]
  }

  /**
   * The input embeddings of the batch, rows concatenated in plan order (spec §6.2-6.3): ids from
   * the extended table, visual spans spliced over their positions (markers included), value tokens
   * replaced by lerps of the LAPE input tables ({@code <WIDTH-INPUT>} untouched unless {@code
   * fixWidthInput}).
   *
   * @return {@code [N, C]} owned by {@code step}
   */
  NDArray embed(List<SequenceStep> seqs, NDManager step) {
    int c = cfg.hiddenSize();
    int n = 0;
    for (SequenceStep s : seqs) {
      n += s.tokenIds().length;
    }
    long[] rowA = new long[n];
    long[] rowB = new long[n];
    float[] wA = new float[n];
    float[] wB = new float[n];
    long[] order = new long[n];
    boolean lerp = false;
    List<float[]> visualSrc = new ArrayList<>();
    List<Integer> visualOff = new ArrayList<>();
    int r = 0;
    for (SequenceStep s : seqs) {
      int[] ids = s.tokenIds();
      int start = s.startPosition();
      for (int j = 0; j < ids.length; j++) {
        int id = ids[j];
        if (id < 0 || id >= vocab.extendedSize()) {
          throw new IllegalArgumentException(
              "sequence "
                  + s.sequenceId()
                  + " has token id "
                  + id
                  + " at position "
                  + (start + j)
                  + ", outside [0, "
                  + vocab.extendedSize()
                  + ")");
        }
        rowA[r + j] = id;
        rowB[r + j] = id;
        wA[r + j] = 1f;
        order[r + j] = r + j;
      }
      int end = start + ids.length;
      PromptInput prompt = s.prompt();
      if (start < prompt.length()) {
        for (PromptInput.ValueToken v : prompt.valueTokens()) {
          if (v.position() < start || v.position() >= end) {
            continue;
          }
          int row = r + v.position() - start;
          int axis = valueAxis(ids[v.position() - start], v, s.sequenceId());
          if (axis < 0) {
            continue; // <WIDTH-INPUT> in release mode: plain embedding, value ignored
          }
          CoordinateLerp cl = CoordinateLerp.of(v.value(), cfg.numCoordinateBins());
          int base = cfg.vocabSize() + axis * cfg.numCoordinateBins();
          rowA[row] = base + cl.lo();
          wA[row] = 1f - cl.weightHi();
          rowB[row] = base + cl.hi();
          wB[row] = cl.weightHi();
          lerp = true;
        }
        for (PromptInput.VisualSpan span : prompt.visualSpans()) {
          int from = Math.max(start, span.start());
          int to = Math.min(end, span.start() + span.length());
          if (from >= to) {
            continue;
          }
          if (!(span.features() instanceof Features f) || f.hidden() != c) {
            throw new IllegalArgumentException(
                "sequence "
                    + s.sequenceId()
                    + " splices features "
                    + span.features().getClass().getName()
                    + " that this model did not encode (hidden "
                    + c
                    + ")");
          }
          for (int p = from; p < to; p++) {
            order[r + p - start] = n + visualSrc.size();
            visualSrc.add(f.data());
            visualOff.add((span.featureOffset() + p - span.start()) * c);
          }
        }
      }
      r += ids.length;
    }
    NDArray base = vocab.embedBlend(rowA, wA, lerp ? rowB : null, wB, step); // [N, C]
    if (visualSrc.isEmpty()) {
      return base;
    }
    int nv = visualSrc.size();
    float[] vis = new float[nv * c];
    for (int i = 0; i < nv; i++) {
      System.arraycopy(visualSrc.get(i), visualOff.get(i), vis, i * c, c);
    }
    try (NDArray v = toDtype(step.create(vis, new Shape(nv, c))); // [Nv, C]
        NDArray all = NDArrays.concat(new NDList(base, v), 0); // [N + Nv, C]
        NDArray idx = step.create(order)) { // [N]
      base.close();
      return all.get(new NDIndex("{}", idx)); // [N, C]
    }
  }

  /** 0 temporal, 1 height, 2 width, -1 for an ignored {@code <WIDTH-INPUT>}. */
  private int valueAxis(int id, PromptInput.ValueToken v, long seq) {
    ValueTokenIds t = options.valueTokenIds();
    if (id == t.tempInput() || id == t.tempOutput()) {
      return 0;
    }
    if (id == t.heightInput() || id == t.heightOutput()) {
      return 1;
    }
    if (id == t.widthOutput()) {
      return 2;
    }
    if (id == t.widthInput()) {
      return options.fixWidthInput() ? 2 : -1;
    }
    throw new IllegalArgumentException(
        "sequence "
            + seq
            + " has value "
            + v.value()
            + " at position "
            + v.position()
            + " on token id "
            + id
            + ", which is not a TEMP/HEIGHT/WIDTH INPUT/OUTPUT slot "
            + t);
  }

  private NDArray toDtype(NDArray a) {
    if (a.getDataType() == dtype) {
      return a;
    }
    NDArray c = a.toType(dtype, false);
    a.close();
    return c;
  }

  private static float[] hostFloats(NDArray a) {
    if (a.getDataType() == DataType.FLOAT32) {
      return a.toFloatArray();
    }
    try (NDArray f = a.toType(DataType.FLOAT32, false)) {
      return f.toFloatArray();
    }
  }

  @Override
  public void close() {
    llm.close();
    manager.close();
  }
}

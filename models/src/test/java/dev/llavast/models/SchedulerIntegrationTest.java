package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.FinishReason;
import dev.llavast.scheduler.GenerationRequest;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.SamplingParams;
import dev.llavast.scheduler.Scheduler;
import dev.llavast.scheduler.SchedulerException;
import dev.llavast.scheduler.SchedulerListener;
import dev.llavast.scheduler.SchedulerStats;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import dev.llavast.scheduler.TokenSink;
import dev.llavast.scheduler.Usage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real scheduler over two real {@link LlavaStModel} CPU executors (tiny checkpoint, one
 * intra-op thread): continuous batching, chunked prefill, prefix reuse and an encode through the
 * scheduler give exactly the greedy tokens of an unbatched, uncached, one-shot run of each request
 * on a separate reference executor. After every test: every sink terminated once, no block
 * referenced, every executor's NDArray count back to what it was right after the KV pool was
 * allocated.
 *
 * <p>Video features are deterministic random {@code [1620, hidden]} rows with distinct media keys
 * (the SigLIP/STP path on 100 frames is covered by {@link EncodeTest} and too slow here); the image
 * request's features come from {@link Scheduler#encode} on real pixels.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class SchedulerIntegrationTest {
  private static final int BLOCK = 16;
  private static final int MAX_NEW = 10;
  private static final int SOLO_CHUNK = 384;

  @TempDir static Path dir;
  static LlavaSt model;

  /** Reference executor: driven by the test thread only, never by a scheduler. */
  static LlavaStModel reference;

  static int referenceBaseline;

  private final List<Sink> sinks = new ArrayList<>();
  private final List<LlavaStModel> executors = new ArrayList<>();
  private final List<Integer> baselines = new ArrayList<>();
  private final AtomicInteger maxBatch = new AtomicInteger();
  private final AtomicInteger mixedSteps = new AtomicInteger();
  private Scheduler scheduler;

  @BeforeAll
  static void writeCheckpoint() throws Exception {
    TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, 11);
    model = LlavaSt.open(dir);
    reference = model.newExecutor(Device.cpu(), false, 1);
    reference.allocateKvCache(2700 / BLOCK + 1, BLOCK); // one sequence of up to 2,700 tokens
    referenceBaseline = reference.liveArrayCount();
  }

  @AfterAll
  static void closeModel() throws Exception {
    if (reference != null) {
      assertThat(reference.liveArrayCount())
          .as("reference executor arrays")
          .isEqualTo(referenceBaseline);
      reference.close();
    }
    if (model != null) {
      model.close();
    }
  }

  /**
   * Two CPU workers over the tiny model; prefill chunks of at most 512 tokens so streams
   * interleave.
   */
  private void startScheduler() {
    var b =
        Scheduler.builder()
            .blockSize(BLOCK)
            .kvBlocks(1024)
            .maxBatchTokens(512)
            .maxRunningSequences(16)
            .idlePoll(Duration.ofMillis(2))
            .listener(
                new SchedulerListener() {
                  @Override
                  public void onStep(StepEvent e) {
                    maxBatch.accumulateAndGet(e.batchSize(), Math::max);
                    if (e.decodeSequences() > 0 && e.decodeSequences() < e.batchSize()) {
                      mixedSteps.incrementAndGet();
                    }
                  }
                });
    for (int i = 0; i < 2; i++) {
      LlavaStModel ex = model.newExecutor(Device.cpu(), false, 1);
      executors.add(ex);
      b.addExecutor(ex);
    }
    scheduler = b.build();
    for (LlavaStModel ex : executors) {
      baselines.add(ex.liveArrayCount()); // weights + the KV pool, allocated by build()
    }
  }

  @AfterEach
  void checkInvariants() throws Exception {
    if (scheduler == null) {
      return;
    }
    try {
      for (Sink s : sinks) {
        assertThat(s.done.await(30, TimeUnit.SECONDS)).as("%s terminated", s.name).isTrue();
        assertThat(s.terminals.get()).as("terminal callbacks of %s", s.name).isEqualTo(1);
        assertThat(s.violation).as("callback order of %s", s.name).isNull();
      }
      SchedulerStats stats = scheduler.stats();
      assertThat(stats.queuedRequests()).isZero();
      assertThat(stats.queuedPromptTokens()).isZero();
      for (SchedulerStats.WorkerStats w : stats.workers()) {
        assertThat(w.healthy()).as("worker %d healthy", w.index()).isTrue();
        assertThat(w.running() + w.waiting() + w.pendingPrompt())
            .as("sequences left on worker %d", w.index())
            .isZero();
        assertThat(w.usedBlocks()).as("referenced blocks on worker %d", w.index()).isZero();
        assertThat(w.pendingEncodes()).isZero();
        assertThat(w.stepFailuresTotal()).isZero();
      }
      for (int i = 0; i < executors.size(); i++) {
        assertThat(executors.get(i).liveArrayCount())
            .as("live NDArrays of executor %d", i)
            .isEqualTo(baselines.get(i));
      }
    } finally {
      assertThat(scheduler.shutdown(Duration.ofSeconds(10))).as("shutdown within grace").isTrue();
    }
    assertThat(reference.liveArrayCount())
        .as("reference executor arrays")
        .isEqualTo(referenceBaseline);
  }

  @Test
  void sixteenConcurrentVideoRequestsAndAnEncodedImageMatchTheirSoloRuns() throws Exception {
    startScheduler();
    int hidden = model.config().hiddenSize();
    List<LlavaStModel.Features> videos =
        List.of(
            video("video-a", 1, hidden), video("video-b", 2, hidden), video("video-c", 3, hidden));
    ChatTemplate template = model.chatTemplate();
    List<PromptInput> prompts = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      LlavaStModel.Features v = videos.get(i % 3);
      String q = QUESTIONS[i];
      prompts.add(template.render(ChatTemplate.Media.VIDEO, q).toPromptInput(v));
      keys.add(v.mediaKey());
    }
    assertThat(prompts.stream().map(p -> Arrays.toString(p.tokenIds())).distinct()).hasSize(16);
    SamplingParams greedy = SamplingParams.greedy(MAX_NEW, model.stopTokenIds());

    // The image goes through the scheduler's encode path; its request waits on the encode (pending
    // prompt).
    PixelFrames image = image("image-1", 5);
    RenderedPrompt imagePrompt =
        template.render(
            ChatTemplate.Media.IMAGE,
            "What object is in the region [<w0.3>,<h0.045>,<w0.724>,<h0.388>] of the image?");
    CompletableFuture<MediaFeatures> encoded = scheduler.encode(image);
    Sink imageSink = sink("image");
    scheduler.submit(
        GenerationRequest.pending(
            "image",
            encoded.thenApply(imagePrompt::toPromptInput),
            imagePrompt.length(),
            image.mediaKey(),
            greedy,
            0,
            null),
        imageSink);

    for (int i = 0; i < 16; i++) {
      scheduler.submit(
          GenerationRequest.of("r" + i, prompts.get(i), keys.get(i), greedy, 0, null),
          sink("r" + i));
    }
    for (Sink s : sinks) {
      assertThat(s.done.await(90, TimeUnit.SECONDS)).as("%s finished", s.name).isTrue();
    }

    // Solo reference runs: one-shot prefill of the whole prompt, then decode, no batching, no
    // cache.
    for (int i = 0; i < 16; i++) {
      Sink s = sinks.get(i + 1);
      assertThat(s.error).as("%s error", s.name).isNull();
      assertThat(s.tokens())
          .as("tokens of %s vs its solo run", s.name)
          .containsExactly(solo(prompts.get(i), greedy));
      assertThat(s.usage.promptTokens()).isEqualTo(prompts.get(i).length());
      assertThat(s.usage.generatedTokens()).isBetween(s.tokens().length, s.tokens().length + 1);
    }
    MediaFeatures imageFeatures = encoded.get(10, TimeUnit.SECONDS);
    MediaFeatures direct = reference.encode(image);
    assertThat(((LlavaStModel.Features) imageFeatures).data())
        .containsExactly(((LlavaStModel.Features) direct).data());
    assertThat(imageSink.error).isNull();
    assertThat(imageSink.tokens())
        .as("tokens of the image request vs its solo run")
        .containsExactly(solo(imagePrompt.toPromptInput(direct), greedy));

    // The batch really was batched and interleaved, and both workers and the prefix cache were
    // used.
    assertThat(maxBatch.get()).as("largest batch").isGreaterThanOrEqualTo(2);
    assertThat(mixedSteps.get()).as("steps mixing decodes with prefill chunks").isPositive();
    SchedulerStats stats = scheduler.stats();
    assertThat(stats.workers()).allSatisfy(w -> assertThat(w.stepsTotal()).isPositive());
    assertThat(
            stats.workers().stream()
                .mapToLong(SchedulerStats.WorkerStats::prefixHitTokensTotal)
                .sum())
        .as("prefix-cache hits over 16 requests on 3 videos")
        .isPositive();
    assertThat(stats.workers()).allSatisfy(w -> assertThat(w.cachedBlocks()).isPositive());
  }

  @Test
  void aSecondQuestionOnAVideoPrefillsOnlyTheQuestion() throws Exception {
    startScheduler();
    LlavaStModel.Features v = video("video-q", 9, model.config().hiddenSize());
    ChatTemplate template = model.chatTemplate();
    PromptInput first =
        template.render(ChatTemplate.Media.VIDEO, "What happens in the video?").toPromptInput(v);
    PromptInput second =
        template.render(ChatTemplate.Media.VIDEO, "Who is talking, and when?").toPromptInput(v);
    SamplingParams greedy = SamplingParams.greedy(MAX_NEW, model.stopTokenIds());

    Sink a = sink("first");
    scheduler.submit(GenerationRequest.of("first", first, v.mediaKey(), greedy, 0, null), a);
    assertThat(a.done.await(60, TimeUnit.SECONDS)).isTrue();
    Sink b = sink("second");
    scheduler.submit(GenerationRequest.of("second", second, v.mediaKey(), greedy, 0, null), b);
    assertThat(b.done.await(60, TimeUnit.SECONDS)).isTrue();

    // Hand-computed expectation: the full blocks of the common prefix (same ids, same media) are
    // reused.
    int common = commonPrefix(first.tokenIds(), second.tokenIds());
    int expectedCached = common / BLOCK * BLOCK;
    assertThat(a.usage.cachedTokens()).isZero();
    assertThat(a.cachedAtStart).isZero();
    assertThat(b.usage.promptTokens()).isEqualTo(second.length());
    assertThat(b.usage.cachedTokens()).isEqualTo(expectedCached);
    assertThat(b.cachedAtStart).isEqualTo(expectedCached);
    assertThat((double) b.usage.cachedTokens() / b.usage.promptTokens())
        .as("cached fraction")
        .isGreaterThanOrEqualTo(0.9);
    // Reused KV gives the tokens of a cold one-shot run.
    assertThat(a.tokens()).containsExactly(solo(first, greedy));
    assertThat(b.tokens()).containsExactly(solo(second, greedy));
  }

  // ----------------------------------------------------------------------------------------
  // helpers

  private static final String[] QUESTIONS = {
    "What happens in the video?",
    "Describe the video in detail.",
    "When does the person enter the room?",
    "Who is talking, and when?",
    "What is in [<w0.3>,<h0.045>,<w0.724>,<h0.388>] at the start?",
    "Where is the ball at the end?",
    "Is it day or night?",
    "How many people are there?",
    "What colour is the car?",
    "Summarise the video in one sentence.",
    "When does the music start?",
    "Which object moves first?",
    "What is the weather like?",
    "Does anyone wave?",
    "Where was this filmed?",
    "What is the last thing that happens?",
  };

  private Sink sink(String name) {
    Sink s = new Sink(name);
    sinks.add(s);
    return s;
  }

  /** Deterministic random {@code [1620, hidden]} slow-video features. */
  private static LlavaStModel.Features video(String key, long seed, int hidden) {
    int rows = model.chatTemplate().videoSlowTokens();
    float[] data = new float[rows * hidden];
    Random r = new Random(seed);
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) (0.5 * r.nextGaussian());
    }
    return new LlavaStModel.Features(key, true, rows, hidden, data);
  }

  /** One 384 x 384 frame of deterministic pixels in [-1, 1]. */
  private static PixelFrames image(String key, long seed) {
    int s = model.config().vision().imageSize();
    float[] px = new float[3 * s * s];
    Random r = new Random(seed);
    for (int i = 0; i < px.length; i++) {
      px[i] = r.nextFloat() * 2 - 1;
    }
    return new PixelFrames(key, false, 1, s, px);
  }

  private static int commonPrefix(int[] a, int[] b) {
    int n = 0;
    while (n < a.length && n < b.length && a[n] == b[n]) {
      n++;
    }
    return n;
  }

  /**
   * Greedy generation of {@code prompt} alone on the reference executor: the prompt in fixed chunks
   * of {@link #SOLO_CHUNK} tokens (one 2,540-token step allocates [2540, 2540] score matrices per
   * head and takes seconds here), then one decode step per token; stops as the scheduler does (stop
   * token not emitted). No batching, no prefix cache, chunk boundaries unrelated to the
   * scheduler's.
   */
  private static int[] solo(PromptInput prompt, SamplingParams greedy) {
    int len = prompt.length();
    int[] blocks = new int[(len + greedy.maxNewTokens() + BLOCK - 1) / BLOCK];
    for (int i = 0; i < blocks.length; i++) {
      blocks[i] = i;
    }
    StepResult res = null;
    for (int pos = 0; pos < len; pos += SOLO_CHUNK) {
      int n = Math.min(SOLO_CHUNK, len - pos);
      int[] ids = Arrays.copyOfRange(prompt.tokenIds(), pos, pos + n);
      res =
          reference.step(
              new StepPlan(
                  BLOCK,
                  List.of(
                      new SequenceStep(
                          1, prompt, ids, pos, blocks, pos + n == len, greedy, new int[0]))));
    }
    int next = res.tokenIds()[0];
    List<Integer> out = new ArrayList<>();
    int pos = len;
    while (out.size() < greedy.maxNewTokens() && !greedy.isStopToken(next)) {
      out.add(next);
      if (out.size() == greedy.maxNewTokens()) {
        break;
      }
      int[] gen = out.stream().mapToInt(Integer::intValue).toArray();
      res =
          reference.step(
              new StepPlan(
                  BLOCK,
                  List.of(
                      new SequenceStep(
                          1, prompt, new int[] {next}, pos, blocks, true, greedy, gen))));
      pos++;
      next = res.tokenIds()[0];
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Records one request's callbacks and checks their order. Thread-safe; never blocks. */
  private static final class Sink implements TokenSink {
    final String name;
    final CountDownLatch done = new CountDownLatch(1);
    final AtomicInteger terminals = new AtomicInteger();
    private final List<Integer> tokens = new ArrayList<>();
    volatile String violation;
    volatile int cachedAtStart = -1;
    volatile Usage usage;
    volatile FinishReason reason;
    volatile SchedulerException error;
    private int starts;

    Sink(String name) {
      this.name = name;
    }

    @Override
    public synchronized void onStart(int promptTokens, int cachedTokens) {
      if (starts++ > 0 || terminals.get() > 0) {
        violation = "onStart twice or after the end";
      }
      cachedAtStart = cachedTokens;
    }

    @Override
    public synchronized boolean onToken(int tokenId, float logprob) {
      if (starts != 1 || terminals.get() > 0) {
        violation = "onToken before onStart or after the end";
      }
      tokens.add(tokenId);
      return true;
    }

    @Override
    public void onFinish(FinishReason reason, Usage usage) {
      this.reason = reason;
      this.usage = usage;
      end();
    }

    @Override
    public void onError(SchedulerException error, Usage usage) {
      this.error = error;
      this.usage = usage;
      end();
    }

    private void end() {
      if (terminals.incrementAndGet() > 1) {
        violation = "more than one terminal callback";
      }
      done.countDown();
    }

    synchronized int[] tokens() {
      return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
  }
}

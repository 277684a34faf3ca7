package dev.llavast.scheduler;

import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * One request inside a worker: its tokens, KV block table, progress and timings.
 *
 * <p>Owned by one worker thread, except {@link #cancel()}, {@link #status()} and the identity
 * fields, which any thread may use (it is also the request's {@link RequestHandle}).
 */
final class Sequence implements RequestHandle {
  final long id;
  final GenerationRequest request;
  final TokenSink sink;
  final int priority;
  final long arrival;
  final long submitNanos;
  final long deadlineNanos;
  final SamplingParams sampling;
  private final int workerIndex;
  private final Runnable wakeWorker;

  private volatile RequestStatus status;
  private volatile boolean cancelRequested;

  // ---- worker thread only ----
  private @Nullable PromptInput prompt;
  int promptLength;

  /** Queue reservation held in the scheduler's admission counters (0 once admitted or ended). */
  int reservedTokens;

  boolean holdsQueueSlot;

  /** Prompt then generated ids; {@code length} of them are valid. */
  int[] tokens = new int[0];

  int length;

  /** Positions whose K/V are in this sequence's blocks. */
  int numComputed;

  /** The KV blocks; only the worker's {@link KvCacheManager} reads or changes them. */
  final KvCacheManager.BlockTable kv = new KvCacheManager.BlockTable();

  long admitOrder;
  boolean everAdmitted;
  int cachedTokens;
  int preemptions;
  long firstAdmitNanos = -1;
  long firstTokenNanos = -1;
  long endNanos = -1;

  /** Positions planned for the current step, 0 if not in it. */
  int planRun;

  boolean planSample;
  boolean done;

  /** Tokens added to the worker's waiting-token load counter for this sequence. */
  long waitingLoad;

  /**
   * @param workerIndex the worker that owns it
   * @param wakeWorker makes that worker iterate now (after a cancel); any thread
   */
  Sequence(
      long id,
      GenerationRequest request,
      TokenSink sink,
      long arrival,
      long submitNanos,
      int workerIndex,
      Runnable wakeWorker) {
    this.id = id;
    this.request = request;
    this.sink = sink;
    this.priority = request.priority();
    this.arrival = arrival;
    this.submitNanos = submitNanos;
    this.deadlineNanos =
        request.timeout() == null
            ? Long.MAX_VALUE
            : saturatedAdd(submitNanos, request.timeout().toNanos());
    this.workerIndex = workerIndex;
    this.wakeWorker = wakeWorker;
    this.sampling = request.sampling();
    this.status = RequestStatus.PENDING_PROMPT;
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return ((a ^ r) & (b ^ r)) < 0 ? Long.MAX_VALUE : r;
  }

  @Override
  public String requestId() {
    return request.requestId();
  }

  @Override
  public boolean cancel() {
    if (status.isTerminal()) {
      return false;
    }
    cancelRequested = true;
    wakeWorker.run();
    return true;
  }

  @Override
  public RequestStatus status() {
    return status;
  }

  @Override
  public int workerIndex() {
    return workerIndex;
  }

  boolean cancelRequested() {
    return cancelRequested;
  }

  void setStatus(RequestStatus s) {
    status = s;
  }

  /** The prompt; worker thread, only once {@link #setPrompt} ran (admitted sequences). */
  PromptInput prompt() {
    if (prompt == null) {
      throw new IllegalStateException("sequence " + id + " has no prompt yet");
    }
    return prompt;
  }

  /** Sets the prompt once it is ready. */
  void setPrompt(PromptInput p) {
    prompt = p;
    promptLength = p.length();
    tokens = Arrays.copyOf(p.tokenIds(), p.length() + Math.min(sampling.maxNewTokens(), 64));
    length = p.length();
  }

  int generatedCount() {
    return length - promptLength;
  }

  /** Running and every known token but the last has K/V: the next step feeds one token. */
  boolean isDecoding() {
    return numComputed == length - 1 && length > promptLength;
  }

  void appendToken(int id) {
    if (length == tokens.length) {
      tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, length + 1));
    }
    tokens[length++] = id;
  }

  Usage usage(long now) {
    long end = endNanos >= 0 ? endNanos : now;
    long queue = (firstAdmitNanos >= 0 ? firstAdmitNanos : end) - submitNanos;
    long prefill =
        firstAdmitNanos < 0 ? 0 : (firstTokenNanos >= 0 ? firstTokenNanos : end) - firstAdmitNanos;
    long decode = firstTokenNanos < 0 ? 0 : end - firstTokenNanos;
    return new Usage(
        prompt == null ? 0 : promptLength,
        cachedTokens,
        prompt == null ? 0 : generatedCount(),
        Math.max(0, queue),
        Math.max(0, prefill),
        Math.max(0, decode),
        preemptions);
  }

  @Override
  public String toString() {
    return "Sequence["
        + id
        + " "
        + request.requestId()
        + " "
        + status
        + " len="
        + length
        + " computed="
        + numComputed
        + " blocks="
        + kv.size()
        + "]";
  }
}

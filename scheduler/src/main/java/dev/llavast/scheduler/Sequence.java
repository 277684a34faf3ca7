package dev.llavast.scheduler;

import java.util.Arrays;

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
  final Worker worker;
  final SamplingParams sampling;

  private volatile RequestStatus status;
  private volatile boolean cancelRequested;

  // ---- worker thread only ----
  PromptInput prompt;
  int promptLength;
  /** Queue reservation held in the scheduler's admission counters (0 once admitted or ended). */
  int reservedTokens;
  boolean holdsQueueSlot;
  /** Prompt then generated ids; {@code length} of them are valid. */
  int[] tokens;
  int length;
  /** Positions whose K/V are in this sequence's blocks. */
  int numComputed;
  int[] blocks = new int[8];
  int numBlocks;
  /** Content hashes of the leading full blocks, valid for {@code [0, numHashes)}. */
  long[] blockHashes = new long[8];
  int numHashes;
  /** Leading blocks registered in (or taken from) the prefix cache. */
  int numRegistered;
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

  Sequence(long id, GenerationRequest request, TokenSink sink, long arrival, long submitNanos, Worker worker) {
    this.id = id;
    this.request = request;
    this.sink = sink;
    this.priority = request.priority();
    this.arrival = arrival;
    this.submitNanos = submitNanos;
    this.deadlineNanos = request.timeout() == null ? Long.MAX_VALUE
        : saturatedAdd(submitNanos, request.timeout().toNanos());
    this.worker = worker;
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
    worker.wakeUp();
    return true;
  }

  @Override
  public RequestStatus status() {
    return status;
  }

  @Override
  public int workerIndex() {
    return worker.index;
  }

  boolean cancelRequested() {
    return cancelRequested;
  }

  void setStatus(RequestStatus s) {
    status = s;
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

  void addBlock(int b) {
    if (numBlocks == blocks.length) {
      blocks = Arrays.copyOf(blocks, blocks.length * 2);
    }
    blocks[numBlocks++] = b;
  }

  void setHash(int index, long h) {
    if (index >= blockHashes.length) {
      blockHashes = Arrays.copyOf(blockHashes, Math.max(blockHashes.length * 2, index + 1));
    }
    blockHashes[index] = h;
    if (index == numHashes) {
      numHashes++;
    }
  }

  /** The hash of full block {@code index}, computing (and remembering) the chain up to it. */
  long hashOf(int index, int blockSize) {
    while (numHashes <= index) {
      int i = numHashes;
      long prev = i == 0 ? 0L : blockHashes[i - 1];
      setHash(i, BlockHasher.hash(prev, tokens, prompt, i, blockSize));
    }
    return blockHashes[index];
  }

  Usage usage(long now) {
    long end = endNanos >= 0 ? endNanos : now;
    long queue = (firstAdmitNanos >= 0 ? firstAdmitNanos : end) - submitNanos;
    long prefill = firstAdmitNanos < 0 ? 0 : (firstTokenNanos >= 0 ? firstTokenNanos : end) - firstAdmitNanos;
    long decode = firstTokenNanos < 0 ? 0 : end - firstTokenNanos;
    return new Usage(prompt == null ? 0 : promptLength, cachedTokens, prompt == null ? 0 : generatedCount(),
        Math.max(0, queue), Math.max(0, prefill), Math.max(0, decode), preemptions);
  }

  @Override
  public String toString() {
    return "Sequence[" + id + " " + request.requestId() + " " + status + " len=" + length + " computed="
        + numComputed + " blocks=" + numBlocks + "]";
  }
}

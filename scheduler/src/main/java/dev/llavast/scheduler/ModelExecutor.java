package dev.llavast.scheduler;

/**
 * The service-provider interface that a model implements so that the scheduler can drive it.
 *
 * <p>The scheduler owns every KV block and every scheduling decision; the executor only runs what
 * it is told. It never sees tensors through this interface: media go in as opaque {@link
 * PreparedMedia}, features come out as opaque {@link MediaFeatures}, and a step returns token ids
 * as Java arrays.
 *
 * <p><b>Threading.</b> One executor belongs to one device and to the one {@code Worker} thread that
 * drives that device. {@link #spec()} may be called from any thread; every other method is called
 * only from the owning worker thread, never concurrently. {@link #close()} is called once, by the
 * worker, after its loop has stopped.
 */
public interface ModelExecutor extends AutoCloseable {

  /** Static facts about the model and device. Any thread; cheap; never changes. */
  ExecutorSpec spec();

  /**
   * How many KV blocks of {@code blockSize} token slots fit into {@code memoryBytes} of device
   * memory for this model (all layers, K and V). Pure arithmetic; any thread.
   */
  default int kvBlocksFor(long memoryBytes, int blockSize) {
    long perBlock = spec().kvBytesPerToken() * (long) blockSize;
    return (int) Math.min(Integer.MAX_VALUE, memoryBytes / perBlock);
  }

  /**
   * Allocates the paged KV pool: {@code numBlocks} blocks of {@code blockSize} token slots per
   * layer. Called once, before the first {@link #step}. Worker thread only.
   *
   * @throws IllegalStateException if the pool cannot be allocated
   */
  void allocateKvCache(int numBlocks, int blockSize);

  /**
   * Runs the vision encoder on prepared media and returns the packed features in host memory. The
   * returned features are owned by the caller (the feature cache), not by the executor. Worker
   * thread only.
   *
   * @throws ExecutorException if encoding fails; the worker fails only the requests waiting on it
   */
  MediaFeatures encode(PreparedMedia media);

  /**
   * Starts an encode that the worker advances a slice at a time between steps, so that running
   * sequences keep their step time while new media are encoded. The default runs {@link #encode} as
   * one slice; an executor whose encode is long should split it. Worker thread only.
   *
   * @throws ExecutorException if the media cannot be encoded by this executor
   */
  default EncodeTask startEncode(PreparedMedia media) {
    return EncodeTask.whole(this, media);
  }

  /**
   * Runs one iteration for a batch of sequences: any mix of prefill chunks and single decode
   * tokens. Reads and writes K/V through each sequence's block table; samples one token for every
   * sequence step whose {@link SequenceStep#sample()} is true. All temporaries of the step are
   * released before it returns. Worker thread only.
   *
   * @throws ExecutorException if the step fails; the scheduler fails the sequences of this step
   */
  StepResult step(StepPlan plan);

  /** Releases the KV pool and weights. Worker thread only, once. */
  @Override
  void close();
}

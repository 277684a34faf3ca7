package dev.llavast.server.generation;

import dev.llavast.models.media.MediaDecoder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What the engine is built from: the model, its devices, the scheduler's limits and the media and
 * session stores. Built by {@code ServerConfig.engine()}, the server's configuration less the
 * transports' settings: the server and the {@code generate} command both go through {@code
 * ServerConfig.builder()}, so a new engine setting is added in one place. Immutable; any thread.
 *
 * @param modelDir checkpoint directory; empty means the random-weight demo checkpoint
 * @param devices the parsed {@code --devices}
 * @param maxQueuedRequests admission limit: requests waiting across workers
 * @param maxQueuedPromptTokens admission limit: prompt tokens waiting across workers
 * @param defaultMaxNewTokens used when a request leaves its token limit unset
 * @param maxNewTokensLimit the largest token limit a request may ask for (every door alike)
 * @param maxUploadBytes size cap of one media item
 * @param maxSessions open sessions at most
 * @param sessionTtl default idle time before a session expires
 * @param featureCacheBytes host memory for cached packed visual features
 * @param kvBlocks KV blocks per worker; 0 derives the count from the memory the device reports
 * @param kvBlockSize token slots per KV block
 * @param maxBatchTokens token budget of one scheduler step
 * @param maxRunningSequences sequences one worker runs at once
 * @param workerStallTimeout a worker loop silent for longer is reported not live
 * @param mediaDir where media are stored; empty means a temporary directory removed on close
 * @param sharedCaches whether tenants share cached features (and so KV prefixes); off by default
 * @param gpuMemoryFraction with {@code kvBlocks} 0 on a GPU: the share of the device's free memory
 *     (after the weights) that the KV pool and the activations may use, in (0, 1]
 * @param decodeThreads FFmpeg decoding threads per video, 1 to 16; 0 picks half the cores (at most
 *     8), leaving the rest to resize sampled frames while the stream decodes
 * @param mediaNice nice value (Linux) of the media decoding threads, 0 to 19; 0 keeps the normal
 *     priority
 * @param prefixCaching whether the scheduler reuses KV blocks of a shared prompt prefix
 * @param attentionFp32 whether the LLM's attention scores are computed in fp32 on every device;
 *     null: the model's default (on for fp16 devices)
 */
public record EngineConfig(
    Optional<Path> modelDir,
    DeviceSpec devices,
    int maxQueuedRequests,
    int maxQueuedPromptTokens,
    int defaultMaxNewTokens,
    int maxNewTokensLimit,
    long maxUploadBytes,
    int maxSessions,
    Duration sessionTtl,
    long featureCacheBytes,
    int kvBlocks,
    int kvBlockSize,
    int maxBatchTokens,
    int maxRunningSequences,
    Duration workerStallTimeout,
    Optional<Path> mediaDir,
    boolean sharedCaches,
    double gpuMemoryFraction,
    int decodeThreads,
    int mediaNice,
    boolean prefixCaching,
    @Nullable Boolean attentionFp32) {

  /** Default {@code --gpu-memory-fraction}. */
  public static final double DEFAULT_GPU_MEMORY_FRACTION = 0.9;

  /**
   * Default {@code --media-nice}: media threads weigh about a tenth of a worker on a shared core
   * (Linux's weights for nice 10 and 0 are 110 and 1024).
   */
  public static final int DEFAULT_MEDIA_NICE = 10;

  /** FFmpeg decoding threads per video: {@link #decodeThreads} or, when 0, the machine's choice. */
  public int effectiveDecodeThreads() {
    return decodeThreads > 0 ? decodeThreads : MediaDecoder.defaultDecodeThreads();
  }

  public EngineConfig {
    if (!(gpuMemoryFraction > 0 && gpuMemoryFraction <= 1)) {
      throw new IllegalArgumentException(
          "--gpu-memory-fraction must be in (0, 1], got " + gpuMemoryFraction);
    }
    if (decodeThreads < 0 || decodeThreads > MediaDecoder.MAX_DECODE_THREADS) {
      throw new IllegalArgumentException(
          "--decode-threads must be in [0, "
              + MediaDecoder.MAX_DECODE_THREADS
              + "], got "
              + decodeThreads);
    }
    if (mediaNice < 0 || mediaNice > 19) {
      throw new IllegalArgumentException("--media-nice must be in [0, 19], got " + mediaNice);
    }
    Objects.requireNonNull(modelDir, "modelDir");
    Objects.requireNonNull(devices, "devices");
    Objects.requireNonNull(sessionTtl, "sessionTtl");
    Objects.requireNonNull(workerStallTimeout, "workerStallTimeout");
    Objects.requireNonNull(mediaDir, "mediaDir");
  }
}

package dev.llavast.server.cli;

import dev.llavast.server.ServerConfig;
import java.nio.file.Path;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The engine's flags, named the same wherever an engine runs: the server ({@code llavast-server})
 * and the one-shot {@code generate} command mix them in. Defaults are the server's.
 */
public final class EngineOptions {
  private static final ServerConfig D = ServerConfig.defaults();

  @Option(
      names = "--model-dir",
      description =
          "Checkpoint directory (config.json, safetensors, tokenizer.json). "
              + "Without it, a random-weight demo checkpoint.")
  public @Nullable Path modelDir;

  @Option(
      names = "--devices",
      description = "cpu, cpu:N (N CPU workers) or cuda:0,1,... (default: ${DEFAULT-VALUE}).")
  public String devices = D.devices();

  @Option(
      names = "--feature-cache-bytes",
      description = "Host memory for cached video features (default: ${DEFAULT-VALUE}).")
  public long featureCacheBytes = D.featureCacheBytes();

  @Option(
      names = "--kv-blocks",
      description =
          "KV blocks per worker; 0 sizes the pool from free GPU memory x --gpu-memory-fraction minus"
              + " the activations of a warm-up step, or 1 GiB on CPU (default: ${DEFAULT-VALUE}).")
  public int kvBlocks = D.kvBlocks();

  @Option(
      names = "--gpu-memory-fraction",
      description =
          "With --kv-blocks=0 on a GPU: the share of free device memory (after the weights) for the"
              + " KV pool and the activations measured by a warm-up step (default: ${DEFAULT-VALUE}).")
  public double gpuMemoryFraction = D.gpuMemoryFraction();

  @Option(
      names = "--kv-block-size",
      description = "Tokens per KV block (default: ${DEFAULT-VALUE}).")
  public int kvBlockSize = D.kvBlockSize();

  @Option(
      names = "--max-batch-tokens",
      description =
          "Token budget of one scheduler step, so also the longest "
              + "prefill chunk (default: ${DEFAULT-VALUE}).")
  public int maxBatchTokens = D.maxBatchTokens();

  @Option(
      names = "--max-running-sequences",
      description = "Sequences one worker runs at once (default: ${DEFAULT-VALUE}).")
  public int maxRunningSequences = D.maxRunningSequences();

  @Option(
      names = "--decode-threads",
      description =
          "FFmpeg decoding threads per video, 1 to 16; 0 uses half the cores, at most 8 "
              + "(default: ${DEFAULT-VALUE}).")
  public int decodeThreads = D.decodeThreads();

  @Option(
      names = "--media-nice",
      description =
          "Nice value of the media decoding threads on Linux, 0 to 19: they yield a contended core"
              + " to token generation and use idle cores fully; 0 keeps the normal priority"
              + " (default: ${DEFAULT-VALUE}).")
  public int mediaNice = D.mediaNice();

  @Option(
      names = "--prefix-caching",
      negatable = true,
      fallbackValue = "true",
      description =
          "Reuse the KV blocks of a prompt prefix (system prompt, video) shared with an earlier"
              + " question; --no-prefix-caching prefills every question whole (default: on).")
  public boolean prefixCaching = D.prefixCaching();

  @Option(
      names = "--attention-fp32",
      negatable = true,
      description =
          "On fp16 devices, compute the LLM's attention scores (q.k) in fp32; --no-attention-fp32"
              + " keeps them in fp16 (faster; long prompts may overflow to NaN). No effect in fp32"
              + " (CPU). Default: the model's choice, on for fp16.")
  public @Nullable Boolean attentionFp32 = D.attentionFp32();

  /**
   * Sets the engine's components of {@code b} from these flags; the one place that maps them, for
   * the server and the {@code generate} command alike.
   *
   * @return {@code b}
   */
  public ServerConfig.Builder applyTo(ServerConfig.Builder b) {
    return b.modelDir(Optional.ofNullable(modelDir))
        .devices(devices)
        .featureCacheBytes(featureCacheBytes)
        .kvBlocks(kvBlocks)
        .gpuMemoryFraction(gpuMemoryFraction)
        .kvBlockSize(kvBlockSize)
        .maxBatchTokens(maxBatchTokens)
        .maxRunningSequences(maxRunningSequences)
        .decodeThreads(decodeThreads)
        .mediaNice(mediaNice)
        .prefixCaching(prefixCaching)
        .attentionFp32(attentionFp32);
  }
}

package dev.llavast.scheduler;

import java.util.List;

/**
 * A point-in-time snapshot for metrics and readiness. Counters ({@code ...Total}) only grow.
 *
 * @param queuedRequests requests holding an admission slot (pending prompt or waiting, never
 *     admitted)
 * @param queuedPromptTokens their prompt tokens
 * @param workers one entry per worker, by index
 */
public record SchedulerStats(
    int queuedRequests, long queuedPromptTokens, List<WorkerStats> workers) {
  public SchedulerStats {
    workers = List.copyOf(workers);
  }

  /** Running sequences over all workers. */
  public int running() {
    return workers.stream().mapToInt(WorkerStats::running).sum();
  }

  /** Waiting sequences (ready prompt, including preempted ones) over all workers. */
  public int waiting() {
    return workers.stream().mapToInt(WorkerStats::waiting).sum();
  }

  /** Preemptions over all workers. */
  public long preemptionsTotal() {
    return workers.stream().mapToLong(WorkerStats::preemptionsTotal).sum();
  }

  /**
   * One worker.
   *
   * @param index worker index
   * @param device the executor's device name
   * @param healthy false after repeated step failures or if the loop died
   * @param waiting ready sequences queued on this worker
   * @param pendingPrompt sequences waiting for their prompt
   * @param running sequences in the running batch
   * @param totalBlocks KV pool size in blocks
   * @param usedBlocks blocks referenced by a sequence
   * @param cachedBlocks unreferenced blocks kept for prefix reuse (evictable)
   * @param pendingEncodes encode jobs queued
   * @param preemptionsTotal sequences preempted
   * @param prefixQueryTokensTotal prompt tokens looked up in the prefix cache at admission
   * @param prefixHitTokensTotal of those, tokens served from the cache
   * @param stepsTotal executor steps run
   * @param stepFailuresTotal executor steps that failed
   */
  public record WorkerStats(
      int index,
      String device,
      boolean healthy,
      int waiting,
      int pendingPrompt,
      int running,
      int totalBlocks,
      int usedBlocks,
      int cachedBlocks,
      int pendingEncodes,
      long preemptionsTotal,
      long prefixQueryTokensTotal,
      long prefixHitTokensTotal,
      long stepsTotal,
      long stepFailuresTotal) {

    /** Fraction of the pool referenced by sequences, in [0, 1]. */
    public double kvUsageRatio() {
      return totalBlocks == 0 ? 0.0 : (double) usedBlocks / totalBlocks;
    }
  }
}

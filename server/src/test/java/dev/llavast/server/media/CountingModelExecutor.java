package dev.llavast.server.media;

import dev.llavast.models.PixelFrames;
import dev.llavast.scheduler.ExecutorSpec;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.ModelExecutor;
import dev.llavast.scheduler.PreparedMedia;
import dev.llavast.scheduler.SequenceStep;
import dev.llavast.scheduler.StepPlan;
import dev.llavast.scheduler.StepResult;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test-only model: counts encodes, keeps what it was given, and returns small features (one token
 * per frame) after an optional delay, so concurrent requests really overlap one load. Steps sample
 * token 0. Called by its one worker thread; the counters may be read from any thread.
 */
public final class CountingModelExecutor implements ModelExecutor {
  public final AtomicInteger encodes = new AtomicInteger();
  public final List<PixelFrames> encoded = new CopyOnWriteArrayList<>();
  public volatile long encodeDelayMillis;
  public volatile boolean failEncode;

  /** Small features: one token per frame, 16 bytes each. */
  public record Features(String mediaKey, int tokenCount, long bytes) implements MediaFeatures {}

  @Override
  public ExecutorSpec spec() {
    return new ExecutorSpec("fake:0", 4096, 1, -1);
  }

  @Override
  public void allocateKvCache(int numBlocks, int blockSize) {}

  @Override
  public MediaFeatures encode(PreparedMedia media) {
    encodes.incrementAndGet();
    PixelFrames p = (PixelFrames) media;
    encoded.add(p);
    if (encodeDelayMillis > 0) {
      try {
        Thread.sleep(encodeDelayMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (failEncode) {
      throw new dev.llavast.scheduler.ExecutorException(
          "injected encode failure for " + media.mediaKey());
    }
    return new Features(p.mediaKey(), p.frames(), 16L * p.frames());
  }

  @Override
  public StepResult step(StepPlan plan) {
    int n = (int) plan.sequences().stream().filter(SequenceStep::sample).count();
    return new StepResult(new int[n], new float[n]);
  }

  @Override
  public void close() {}
}

package dev.llavast.server.media;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.server.observability.Metrics;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * STP-packed visual features of media, in host memory, keyed by media key (content hash plus
 * preprocessing and model version). A Caffeine {@link AsyncCache} weighed in bytes:
 *
 * <ul>
 *   <li>a miss starts ONE load per key (decode on the CPU pool, then one encode job on a worker),
 *       however many requests ask for it concurrently; they all wait on the same future;
 *   <li>a failed load is not cached: the next request tries again;
 *   <li>a request that cancels while waiting never cancels the shared load (callers get a dependent
 *       future, not the cached one);
 *   <li>eviction never breaks a request that already holds the features: they are immutable host
 *       arrays that stay alive as long as someone references them.
 * </ul>
 *
 * <p>Thread-safe; any thread.
 */
public final class FeatureCache {
  private final AsyncCache<String, MediaFeatures> cache;
  private final Metrics metrics;

  /**
   * @param maxBytes weight bound in bytes (0 disables caching: every request loads)
   * @param executor runs Caffeine's maintenance and callbacks
   */
  public FeatureCache(long maxBytes, Executor executor, Metrics metrics) {
    this.metrics = metrics;
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((String key, MediaFeatures f) -> (int) Math.min(Integer.MAX_VALUE, f.bytes()))
            .executor(executor)
            .recordStats()
            .buildAsync();
    metrics.featureCache(() -> weightBytes(), () -> stats().evictionCount());
  }

  /**
   * The features of {@code mediaKey}, loading them with {@code loader} on a miss. The returned
   * future is the caller's own: cancelling it does not cancel the shared load.
   *
   * @param loader starts the decode + encode for the key; called at most once per concurrent miss
   */
  public CompletableFuture<Lookup> get(
      String mediaKey, Function<String, CompletableFuture<MediaFeatures>> loader) {
    boolean[] loaded = new boolean[1];
    CompletableFuture<MediaFeatures> shared =
        cache.get(
            mediaKey,
            (key, exec) -> {
              loaded[0] = true;
              return loader.apply(key);
            });
    boolean hit = !loaded[0];
    metrics.featureCacheRequests.labelValues(hit ? "hit" : "miss").inc();
    // A dependent future: cancelling it leaves `shared` running for the others. A failed load
    // leaves the cache before any waiter sees the failure (Caffeine's own removal runs after the
    // dependents registered later), so a request that follows one that failed loads again.
    return shared.handle(
        (f, e) -> {
          if (e != null) {
            cache.asMap().remove(mediaKey, shared);
            throw e instanceof java.util.concurrent.CompletionException c
                ? c
                : new java.util.concurrent.CompletionException(e);
          }
          return new Lookup(f, hit);
        });
  }

  /** The cached features if present and complete. */
  public Optional<MediaFeatures> getIfPresent(String mediaKey) {
    CompletableFuture<MediaFeatures> f = cache.getIfPresent(mediaKey);
    if (f == null || !f.isDone() || f.isCompletedExceptionally()) {
      return Optional.empty();
    }
    return Optional.of(f.join());
  }

  /**
   * Removes every key that starts with {@code prefix} (all preprocessing variants of one media).
   * Loads in flight are dropped from the cache (their waiters still get them).
   *
   * @return host bytes of the completed entries removed
   */
  public long invalidatePrefix(String prefix) {
    long released = 0;
    var map = cache.asMap();
    for (String k : java.util.List.copyOf(map.keySet())) {
      if (!k.startsWith(prefix)) {
        continue;
      }
      CompletableFuture<MediaFeatures> f = map.remove(k);
      if (f != null && f.isDone() && !f.isCompletedExceptionally()) {
        released += f.join().bytes();
      }
    }
    return released;
  }

  /** True if a completed entry whose key starts with {@code prefix} is cached now. */
  public boolean containsPrefix(String prefix) {
    for (var e : cache.asMap().entrySet()) {
      CompletableFuture<MediaFeatures> f = e.getValue();
      if (e.getKey().startsWith(prefix) && f.isDone() && !f.isCompletedExceptionally()) {
        return true;
      }
    }
    return false;
  }

  public long entries() {
    return cache.synchronous().estimatedSize();
  }

  public long weightBytes() {
    return cache
        .synchronous()
        .policy()
        .eviction()
        .flatMap(e -> e.weightedSize().stream().boxed().findFirst())
        .orElse(0L);
  }

  public long maxWeightBytes() {
    return cache.synchronous().policy().eviction().map(e -> e.getMaximum()).orElse(0L);
  }

  public CacheStats stats() {
    return cache.synchronous().stats();
  }

  /** Runs pending maintenance (evictions) now; for tests and status snapshots. */
  public void cleanUp() {
    cache.synchronous().cleanUp();
  }

  /** Features and whether they came from the cache. */
  public record Lookup(MediaFeatures features, boolean hit) {}
}

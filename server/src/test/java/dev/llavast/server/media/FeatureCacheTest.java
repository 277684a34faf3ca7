package dev.llavast.server.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.server.observability.Metrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class FeatureCacheTest {
  private final ExecutorService pool = Executors.newFixedThreadPool(8);

  record Features(String mediaKey, int tokenCount, long bytes) implements MediaFeatures {}

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  @Test
  void concurrentMissesShareOneLoad() throws Exception {
    FeatureCache cache =
        new FeatureCache(1 << 30, Runnable::run, new Metrics(new PrometheusRegistry()));
    AtomicInteger loads = new AtomicInteger();
    CompletableFuture<MediaFeatures> gate = new CompletableFuture<>();
    CountDownLatch asked = new CountDownLatch(16);
    List<CompletableFuture<FeatureCache.Lookup>> results = new ArrayList<>();
    List<CompletableFuture<?>> submitted = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      CompletableFuture<FeatureCache.Lookup> r = new CompletableFuture<>();
      results.add(r);
      submitted.add(
          CompletableFuture.runAsync(
              () -> {
                cache
                    .get(
                        "video-a",
                        key -> {
                          loads.incrementAndGet();
                          return gate;
                        })
                    .whenComplete(
                        (v, e) -> {
                          if (e != null) {
                            r.completeExceptionally(e);
                          } else {
                            r.complete(v);
                          }
                        });
                asked.countDown();
              },
              pool));
    }
    assertThat(asked.await(10, TimeUnit.SECONDS)).isTrue();
    Features f = new Features("video-a", 1620, 1000);
    gate.complete(f);
    int hits = 0;
    for (CompletableFuture<FeatureCache.Lookup> r : results) {
      FeatureCache.Lookup l = r.get(10, TimeUnit.SECONDS);
      assertThat(l.features()).isSameAs(f);
      hits += l.hit() ? 1 : 0;
    }
    assertThat(loads).hasValue(1);
    assertThat(hits).isEqualTo(15);
    assertThat(cache.getIfPresent("video-a")).containsSame(f);
  }

  @Test
  void failedLoadIsNotCached() throws Exception {
    FeatureCache cache = new FeatureCache(1 << 30, Runnable::run, Metrics.noop());
    CompletableFuture<FeatureCache.Lookup> failed =
        cache.get(
            "bad",
            key -> CompletableFuture.failedFuture(new IllegalStateException("decode failed")));
    assertThatThrownBy(() -> failed.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseMessage("decode failed");
    AtomicInteger loads = new AtomicInteger();
    FeatureCache.Lookup retry =
        cache
            .get(
                "bad",
                key -> {
                  loads.incrementAndGet();
                  return CompletableFuture.completedFuture(new Features(key, 729, 10));
                })
            .get(5, TimeUnit.SECONDS);
    assertThat(loads).hasValue(1);
    assertThat(retry.hit()).isFalse();
  }

  @Test
  void cancellingOneWaiterLeavesTheSharedLoadRunning() throws Exception {
    FeatureCache cache = new FeatureCache(1 << 30, Runnable::run, Metrics.noop());
    CompletableFuture<MediaFeatures> gate = new CompletableFuture<>();
    CompletableFuture<FeatureCache.Lookup> a = cache.get("v", key -> gate);
    CompletableFuture<FeatureCache.Lookup> b =
        cache.get(
            "v",
            key -> {
              throw new AssertionError("second load");
            });
    a.cancel(true);
    assertThat(gate.isCancelled()).isFalse();
    gate.complete(new Features("v", 1620, 5));
    assertThat(b.get(5, TimeUnit.SECONDS).features().mediaKey()).isEqualTo("v");
  }

  @Test
  void evictsByWeightWithoutBreakingHolders() throws Exception {
    FeatureCache cache = new FeatureCache(2500, Runnable::run, Metrics.noop());
    FeatureCache.Lookup first =
        cache
            .get("a", k -> CompletableFuture.completedFuture(new Features(k, 1620, 1000)))
            .get(5, TimeUnit.SECONDS);
    for (String k : List.of("b", "c", "d")) {
      cache
          .get(k, key -> CompletableFuture.completedFuture(new Features(key, 1620, 1000)))
          .get(5, TimeUnit.SECONDS);
    }
    cache.cleanUp();
    assertThat(cache.weightBytes()).isLessThanOrEqualTo(2500);
    assertThat(cache.stats().evictionCount()).isGreaterThanOrEqualTo(2);
    // The holder of an evicted entry still has its (immutable) features.
    assertThat(first.features().mediaKey()).isEqualTo("a");
    assertThat(first.features().bytes()).isEqualTo(1000);
  }
}

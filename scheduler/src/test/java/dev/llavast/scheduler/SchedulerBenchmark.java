package dev.llavast.scheduler;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Benchmark (not a test): scheduler bookkeeping per step with a zero-cost executor at 8, 64 and 256
 * running sequences. Bookkeeping is the whole iteration (inbox, drop checks, planning, building the
 * step plan, delivery, stop conditions, freeing, statistics) minus the executor call, as reported
 * by {@link SchedulerListener.StepEvent#bookkeepingNanos()}. Finished requests are replaced at once
 * so the running set stays full; the stream mixes decodes with the occasional 64-token prefill.
 * {@code cpu_us/iter} is the worker thread's CPU time per iteration (including the trivial executor
 * call), which stays meaningful on a machine shared with other processes, where wall-clock
 * percentiles include time the thread was descheduled.
 *
 * <p>Run from the repository root: {@code ./mvnw -B -q -pl scheduler test-compile} then {@code java
 * -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp
 * scheduler/target/classes:scheduler/target/test-classes:$HOME/.m2/repository/org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar
 * dev.llavast.scheduler.SchedulerBenchmark [rounds [sizes...]]}. Three rounds per size by default;
 * the first warms the JIT. Pre-touch the heap as the deployments do: without it, whole rounds run
 * ~12x slower on our sandboxed build machines while the young generation grows into memory that was
 * never touched (each first touch is a slow page fault there), which measures the machine, not the
 * scheduler.
 */
public final class SchedulerBenchmark {
  private static final int PROMPT = 64;
  private static final int WARMUP_STEPS = 3_000;
  private static final int MEASURED_STEPS = 5_000;

  private SchedulerBenchmark() {}

  /** Samples token 1 for every sequence that asks; touches nothing else. */
  static final class ZeroCostExecutor implements ModelExecutor {
    @Override
    public ExecutorSpec spec() {
      return new ExecutorSpec("zero:0", 8192, 1, -1);
    }

    @Override
    public void allocateKvCache(int numBlocks, int blockSize) {}

    @Override
    public MediaFeatures encode(PreparedMedia media) {
      throw new UnsupportedOperationException("the benchmark encodes nothing");
    }

    @Override
    public StepResult step(StepPlan plan) {
      int n = 0;
      for (SequenceStep s : plan.sequences()) {
        if (s.sample()) {
          n++;
        }
      }
      int[] ids = new int[n];
      Arrays.fill(ids, 1);
      return new StepResult(ids, null);
    }

    @Override
    public void close() {}
  }

  /** Arguments (optional): rounds, then running-set sizes; default 3 rounds of 8, 64 and 256. */
  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    int[] sizes =
        args.length > 1
            ? Arrays.stream(args, 1, args.length).mapToInt(Integer::parseInt).toArray()
            : new int[] {8, 64, 256};
    System.out.printf(
        "%-8s %-7s %-9s %-9s %-9s %-9s %-12s%n",
        "running", "steps", "mean_us", "p50_us", "p99_us", "avg_batch", "cpu_us/iter");
    for (int round = 0; round < rounds; round++) {
      System.out.println(round == 0 ? "# round 1 (JIT warming)" : "# round " + (round + 1));
      for (int n : sizes) {
        run(n);
      }
    }
  }

  private static void run(int running) {
    long[] book = new long[MEASURED_STEPS];
    long[] batch = new long[1];
    AtomicInteger idx = new AtomicInteger(-WARMUP_STEPS);
    SchedulerImpl s =
        (SchedulerImpl)
            Scheduler.builder()
                .addExecutor(new ZeroCostExecutor())
                .blockSize(16)
                .kvBlocks(running * 24 + 64)
                .maxBatchTokens(Math.max(2048, running))
                .maxRunningSequences(running)
                .maxQueuedRequests(running * 2)
                .listener(
                    new SchedulerListener() {
                      @Override
                      public void onStep(StepEvent e) {
                        int i = idx.getAndIncrement();
                        if (i >= 0 && i < MEASURED_STEPS) {
                          book[i] = e.bookkeepingNanos();
                          batch[0] += e.batchSize();
                        }
                      }
                    })
                .manualStepping()
                .build();
    AtomicInteger next = new AtomicInteger();
    for (int i = 0; i < running; i++) {
      submit(s, next);
    }
    Worker w = s.worker(0);
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    while (idx.get() < 0) {
      w.runOnce();
    }
    long cpu0 = mx.getCurrentThreadCpuTime();
    long iters = 0;
    while (idx.get() < MEASURED_STEPS) {
      w.runOnce();
      iters++;
    }
    double cpuPerIter = (mx.getCurrentThreadCpuTime() - cpu0) / 1000.0 / iters;
    s.shutdown(java.time.Duration.ZERO);
    long[] sorted = book.clone();
    Arrays.sort(sorted);
    double mean = Arrays.stream(book).average().orElse(0) / 1000.0;
    System.out.printf(
        "%-8d %-7d %-9.1f %-9.1f %-9.1f %-9.1f %-12.1f%n",
        running,
        MEASURED_STEPS,
        mean,
        sorted[MEASURED_STEPS / 2] / 1000.0,
        sorted[MEASURED_STEPS * 99 / 100] / 1000.0,
        (double) batch[0] / MEASURED_STEPS,
        cpuPerIter);
  }

  private static void submit(Scheduler s, AtomicInteger next) {
    int i = next.getAndIncrement();
    int[] ids = new int[PROMPT];
    for (int k = 0; k < PROMPT; k++) {
      ids[k] = 2 + (int) Math.floorMod(BlockHasher.mix(i * 1_000_003L + k), 30_000L);
    }
    int maxNew = 64 + (i * 37) % 256; // staggered ends, 64..319 tokens
    s.submit(
        GenerationRequest.of("b" + i, PromptInput.ofTokens(ids), SamplingParams.greedy(maxNew)),
        new TokenSink() {
          @Override
          public boolean onToken(int tokenId, float logprob) {
            return true;
          }

          @Override
          public void onFinish(FinishReason reason, Usage usage) {
            submit(s, next); // keep the running set full
          }

          @Override
          public void onError(SchedulerException error, Usage usage) {}
        });
  }
}

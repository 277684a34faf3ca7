package dev.llavast.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Records every callback; checks the callback order. Thread-safe. */
class RecordingSink implements TokenSink {
  final String name;
  private final List<Integer> tokens = new ArrayList<>();
  private int starts;
  private int terminals;
  private int promptTokens = -1;
  private int cachedAtStart = -1;
  private FinishReason reason;
  private SchedulerException error;
  private Usage usage;
  private final CountDownLatch done = new CountDownLatch(1);
  private String violation;
  volatile int stopAfter = Integer.MAX_VALUE;
  volatile boolean throwOnToken;
  volatile Thread callbackThread;

  RecordingSink(String name) {
    this.name = name;
  }

  @Override
  public synchronized void onStart(int promptTokens, int cachedTokens) {
    callbackThread = Thread.currentThread();
    if (starts++ > 0 || terminals > 0 || !tokens.isEmpty()) {
      violation = "onStart out of order";
    }
    this.promptTokens = promptTokens;
    this.cachedAtStart = cachedTokens;
  }

  @Override
  public synchronized boolean onToken(int tokenId, float logprob) {
    if (starts != 1 || terminals > 0) {
      violation = "onToken before onStart or after the end";
    }
    if (throwOnToken) {
      throw new IllegalStateException("sink " + name + " fails on purpose");
    }
    tokens.add(tokenId);
    return tokens.size() < stopAfter;
  }

  @Override
  public synchronized void onFinish(FinishReason reason, Usage usage) {
    terminal();
    this.reason = reason;
    this.usage = usage;
  }

  @Override
  public synchronized void onError(SchedulerException error, Usage usage) {
    terminal();
    this.error = error;
    this.usage = usage;
  }

  private void terminal() {
    callbackThread = Thread.currentThread();
    if (++terminals > 1) {
      violation = "more than one terminal callback";
    }
    done.countDown();
  }

  boolean await(long seconds) throws InterruptedException {
    return done.await(seconds, TimeUnit.SECONDS);
  }

  synchronized List<Integer> tokens() {
    return List.copyOf(tokens);
  }

  synchronized int terminals() {
    return terminals;
  }

  synchronized FinishReason reason() {
    return reason;
  }

  synchronized SchedulerException error() {
    return error;
  }

  synchronized Usage usage() {
    return usage;
  }

  synchronized int starts() {
    return starts;
  }

  synchronized int cachedAtStart() {
    return cachedAtStart;
  }

  synchronized String violation() {
    return violation;
  }

  @Override
  public String toString() {
    return "sink " + name;
  }
}

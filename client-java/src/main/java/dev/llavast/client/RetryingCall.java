package dev.llavast.client;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * One logical unary or server-streaming call made of one or more attempts. A failed attempt is
 * retried per the {@link RetryPolicy} only if it delivered no response message; once a message
 * arrived, a failure goes straight to the downstream observer. The downstream sees {@code onNext}
 * for each message, then exactly one of {@code onCompleted} or {@code onError(LlavaStException)}.
 *
 * <p>Thread-safety: {@link #start()} once from any thread; {@link #cancel} and {@link #request}
 * from any thread. Downstream callbacks arrive on gRPC's executor or the retry scheduler, one at a
 * time.
 */
final class RetryingCall<ReqT, RespT> {
  /** Starts one attempt: calls the async stub with the given observer (and a fresh deadline). */
  interface Starter<ReqT, RespT> {
    void start(ClientResponseObserver<ReqT, RespT> observer);
  }

  private final Starter<ReqT, RespT> starter;
  private final RetryPolicy policy;
  private final ScheduledExecutorService scheduler;
  private final StreamObserver<RespT> downstream;
  private final DoubleSupplier random;
  private final LongSupplier nanoTime;
  private final boolean manualFlow;
  private final long startNanos;
  private Runnable onFinish = () -> {};

  private int attempts;
  private boolean received;
  private boolean cancelled;
  private boolean finished;
  private boolean inFlight;
  private @Nullable ClientCallStreamObserver<ReqT> current;
  private @Nullable ScheduledFuture<?> pendingRetry;

  RetryingCall(
      Starter<ReqT, RespT> starter,
      RetryPolicy policy,
      ScheduledExecutorService scheduler,
      StreamObserver<RespT> downstream,
      DoubleSupplier random,
      LongSupplier nanoTime,
      boolean manualFlow) {
    this.starter = starter;
    this.policy = policy;
    this.scheduler = scheduler;
    this.downstream = downstream;
    this.random = random;
    this.nanoTime = nanoTime;
    this.manualFlow = manualFlow;
    this.startNanos = nanoTime.getAsLong();
  }

  /**
   * Runs once when the call has delivered its terminal callback (the client's bookkeeping of live
   * calls).
   */
  synchronized void onFinish(Runnable r) {
    this.onFinish = r;
  }

  void start() {
    synchronized (this) {
      pendingRetry = null;
      if (cancelled || finished) {
        return;
      }
      attempts++;
      inFlight = true;
    }
    try {
      starter.start(new Attempt());
    } catch (RuntimeException e) {
      onAttemptError(e);
    }
  }

  /** Asks the current attempt for {@code n} more messages (manual flow control only). */
  void request(int n) {
    ClientCallStreamObserver<ReqT> c;
    synchronized (this) {
      c = current;
    }
    if (c != null) {
      c.request(n);
    }
  }

  /** Cancels the call: the running attempt is cancelled and no retry starts. Idempotent. */
  void cancel(String why) {
    ClientCallStreamObserver<ReqT> c;
    boolean deliverNow;
    synchronized (this) {
      if (cancelled || finished) {
        return;
      }
      cancelled = true;
      c = inFlight ? current : null;
      deliverNow = !inFlight;
      if (pendingRetry != null) {
        pendingRetry.cancel(false);
      }
      if (deliverNow) {
        finished = true;
      }
    }
    if (c != null) {
      c.cancel(why, null);
    } else if (deliverNow) {
      finish();
      downstream.onError(
          LlavaStException.from(io.grpc.Status.CANCELLED.withDescription(why).asRuntimeException())
              .withAttempts(attempts));
    }
  }

  synchronized int attempts() {
    return attempts;
  }

  private void onAttemptError(Throwable t) {
    LlavaStException e = LlavaStException.from(t);
    int made;
    synchronized (this) {
      inFlight = false;
      current = null;
      if (finished) {
        return;
      }
      made = attempts;
      if (!cancelled && !received) {
        Duration delay = policy.backoff(made, e.retryDelay(), random.getAsDouble());
        Duration elapsedAtNext = Duration.ofNanos(nanoTime.getAsLong() - startNanos).plus(delay);
        if (policy.shouldRetry(e, made, elapsedAtNext)) {
          try {
            pendingRetry = scheduler.schedule(this::start, delay.toNanos(), TimeUnit.NANOSECONDS);
            return;
          } catch (java.util.concurrent.RejectedExecutionException closed) {
            // the client is closing: report this attempt's error instead of retrying
          }
        }
      }
      finished = true;
    }
    finish();
    downstream.onError(e.withAttempts(made));
  }

  private final class Attempt implements ClientResponseObserver<ReqT, RespT> {
    @Override
    public void beforeStart(ClientCallStreamObserver<ReqT> requestStream) {
      if (manualFlow) {
        requestStream.disableAutoRequestWithInitial(1);
      }
      boolean cancelNow;
      synchronized (RetryingCall.this) {
        current = requestStream;
        cancelNow = cancelled;
      }
      if (cancelNow) {
        requestStream.cancel("cancelled before start", null);
      }
    }

    @Override
    public void onNext(RespT value) {
      synchronized (RetryingCall.this) {
        received = true;
      }
      downstream.onNext(value);
    }

    @Override
    public void onError(Throwable t) {
      onAttemptError(t);
    }

    @Override
    public void onCompleted() {
      synchronized (RetryingCall.this) {
        inFlight = false;
        current = null;
        if (finished) {
          return;
        }
        finished = true;
      }
      finish();
      downstream.onCompleted();
    }
  }

  private void finish() {
    Runnable r;
    synchronized (this) {
      r = onFinish;
    }
    r.run();
  }

  /** Default random source: a thread-local uniform double in [0, 1). */
  static double uniform() {
    return java.util.concurrent.ThreadLocalRandom.current().nextDouble();
  }
}

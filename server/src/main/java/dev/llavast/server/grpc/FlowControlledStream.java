package dev.llavast.server.grpc;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The outbound side of a server stream that producers (scheduler worker threads) can write to
 * without ever blocking or touching gRPC: messages go into a queue that is drained onto the call,
 * on {@code executor}, only while the transport is ready (gRPC flow control). A client that stops
 * reading lets the queue grow to {@code maxBuffered} messages; past that the call fails with {@code
 * FAILED_PRECONDITION} / {@code SLOW_CONSUMER} and {@code onSlowConsumer} runs, so the request is
 * cancelled and its KV blocks freed.
 *
 * <p>Threading: {@link #send}, {@link #complete} and {@link #fail} may be called from any thread;
 * exactly one terminal call ({@link #complete} or {@link #fail}) takes effect. Calls on the gRPC
 * observer are serialized by a drain loop that runs on {@code executor}.
 *
 * @param <T> the message type
 */
final class FlowControlledStream<T> {
  private final ServerCallStreamObserver<T> call;
  private final Executor executor;
  private final int maxBuffered;
  private final Runnable onSlowConsumer;
  private final ConcurrentLinkedQueue<T> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger buffered = new AtomicInteger();
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicBoolean terminated = new AtomicBoolean();
  private volatile @Nullable Throwable terminalError;
  private volatile boolean terminalSet;
  private boolean closed; // only touched by the drain loop

  /**
   * Must be constructed on the gRPC handler thread of the call, before the handler returns (it
   * installs the on-ready handler).
   */
  FlowControlledStream(
      ServerCallStreamObserver<T> call,
      Executor executor,
      int maxBuffered,
      Runnable onSlowConsumer) {
    this.call = call;
    this.executor = executor;
    this.maxBuffered = maxBuffered;
    this.onSlowConsumer = onSlowConsumer;
    call.setOnReadyHandler(this::scheduleDrain);
  }

  /**
   * Queues a message. Returns false if the stream is already terminated (the message is dropped).
   */
  boolean send(T message) {
    if (terminated.get()) {
      return false;
    }
    if (buffered.incrementAndGet() > maxBuffered) {
      buffered.decrementAndGet();
      if (fail(
          GrpcErrors.toStatus(
              ApiException.of(
                  Reason.SLOW_CONSUMER,
                  "the client did not read the stream; more than "
                      + maxBuffered
                      + " messages were waiting")))) {
        onSlowConsumer.run();
      }
      return false;
    }
    queue.add(message);
    scheduleDrain();
    return true;
  }

  /**
   * Ends the stream with OK after every queued message. Returns whether this call terminated it.
   */
  boolean complete() {
    return terminate(null);
  }

  /**
   * Ends the stream with an error (queued messages are dropped). Returns whether this call
   * terminated it.
   */
  boolean fail(Throwable error) {
    return terminate(error);
  }

  /** Messages queued and not yet handed to gRPC. */
  int buffered() {
    return buffered.get();
  }

  boolean isTerminated() {
    return terminated.get();
  }

  private boolean terminate(@Nullable Throwable error) {
    if (!terminated.compareAndSet(false, true)) {
      return false;
    }
    terminalError = error;
    terminalSet = true;
    scheduleDrain();
    return true;
  }

  private void scheduleDrain() {
    if (wip.getAndIncrement() == 0) {
      executor.execute(this::drain);
    }
  }

  private void drain() {
    int missed = 1;
    do {
      if (!closed) {
        drainOnce();
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }

  private void drainOnce() {
    try {
      if (call.isCancelled()) {
        closed = true;
        queue.clear();
        return;
      }
      if (terminalSet && terminalError != null) {
        closed = true;
        queue.clear();
        call.onError(terminalError);
        return;
      }
      while (call.isReady()) {
        T next = queue.poll();
        if (next == null) {
          break;
        }
        buffered.decrementAndGet();
        call.onNext(next);
      }
      if (terminalSet && queue.isEmpty()) {
        closed = true;
        call.onCompleted();
      }
    } catch (StatusRuntimeException | IllegalStateException e) {
      // The call was cancelled or closed under us: nothing more can be sent.
      closed = true;
      queue.clear();
      if (!(e instanceof StatusRuntimeException sre)
          || sre.getStatus().getCode() != Status.Code.CANCELLED) {
        org.slf4j.LoggerFactory.getLogger(FlowControlledStream.class)
            .debug("stream closed while draining", e);
      }
    }
  }
}

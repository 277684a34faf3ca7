package dev.llavast.client;

import dev.llavast.api.v1.GenerateStreamResponse;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import org.jspecify.annotations.Nullable;

/**
 * A streaming answer as a blocking iterator: zero or more {@link Delta}s, then one {@link Answer}.
 * A failed call throws {@link LlavaStException} from {@link #hasNext()}/{@link #next()}. {@link
 * #close()} before the end cancels the call on the server. Messages are pulled with gRPC flow
 * control: the server is asked for the next message only after the previous one was taken.
 *
 * <p>Thread-safety: iterate from one thread; {@link #close()} may be called from any thread.
 */
public final class AnswerStream implements Iterator<StreamEvent>, AutoCloseable {
  private static final Object COMPLETED = new Object();

  private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private @Nullable RetryingCall<?, GenerateStreamResponse> call; // set by bind, before use
  private @Nullable Object head;
  private boolean ended;
  private volatile boolean closed;

  AnswerStream() {}

  void bind(RetryingCall<?, GenerateStreamResponse> c) {
    this.call = c;
  }

  private RetryingCall<?, GenerateStreamResponse> call() {
    if (call == null) {
      throw new IllegalStateException("the stream's call is not bound yet");
    }
    return call;
  }

  StreamObserver<GenerateStreamResponse> sink() {
    return new StreamObserver<>() {
      @Override
      public void onNext(GenerateStreamResponse value) {
        queue.add(value);
      }

      @Override
      public void onError(Throwable t) {
        queue.add(LlavaStException.from(t));
      }

      @Override
      public void onCompleted() {
        queue.add(COMPLETED);
      }
    };
  }

  @Override
  public boolean hasNext() {
    if (ended || closed) {
      return false;
    }
    if (head == null) {
      try {
        head = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        close();
        throw new LlavaStException(
            io.grpc.Status.Code.CANCELLED,
            "CANCELLED",
            "interrupted while waiting for the stream",
            java.util.Map.of(),
            java.util.List.of(),
            null,
            1,
            e);
      }
    }
    if (head == COMPLETED) {
      ended = true;
      return false;
    }
    if (head instanceof LlavaStException e) {
      ended = true;
      throw e;
    }
    return true;
  }

  @Override
  public StreamEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the stream has ended");
    }
    GenerateStreamResponse r = (GenerateStreamResponse) Objects.requireNonNull(head, "hasNext");
    head = null;
    call().request(1);
    return Convert.event(r);
  }

  /** Reads the stream to its end and returns the final answer; deltas are dropped. */
  public Answer answer() {
    Answer a = null;
    while (hasNext()) {
      if (next() instanceof Answer f) {
        a = f;
      }
    }
    if (a == null) {
      throw new IllegalStateException("the stream ended without a final message");
    }
    return a;
  }

  /** Cancels the call if it has not ended. Idempotent; any thread. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      call().cancel("client closed the stream");
    }
  }
}

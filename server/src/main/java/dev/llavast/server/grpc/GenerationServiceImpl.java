package dev.llavast.server.grpc;

import dev.llavast.api.v1.AbortRequest;
import dev.llavast.api.v1.AbortResponse;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.server.api.ProtoAnswers;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.AnswerDelta;
import dev.llavast.server.generation.AnswerListener;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.FinalAnswer;
import dev.llavast.server.generation.GenerationJob;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * {@code GenerationService} over the {@link Engine}: validates a request, translates it to a {@link
 * GenerationJob}, and writes the engine's answer to a flow-controlled stream. The session service's
 * {@code Ask} runs through {@link #run} too.
 *
 * <p>Handlers run on the gRPC handler executor and never block or touch tensors.
 */
final class GenerationServiceImpl extends GenerationServiceGrpc.GenerationServiceImplBase {
  /** Deltas buffered for a client that does not read before its call is failed. */
  static final int MAX_BUFFERED_MESSAGES = 4096;

  private final Engine engine;
  private final MediaRefResolver mediaRefs;
  private final RequestValidator validator;
  private final Executor handlerExecutor;
  private final BooleanSupplier draining;

  GenerationServiceImpl(
      Engine engine,
      RequestValidator validator,
      Executor handlerExecutor,
      BooleanSupplier draining) {
    this.engine = engine;
    this.mediaRefs = MediaRefResolver.of(engine);
    this.validator = validator;
    this.handlerExecutor = handlerExecutor;
    this.draining = draining;
  }

  @Override
  public void generate(GenerateRequest request, StreamObserver<GenerateFinal> response) {
    ServerCallStreamObserver<GenerateFinal> call =
        (ServerCallStreamObserver<GenerateFinal>) response;
    AtomicReference<Engine.Generation> handle = new AtomicReference<>();
    FlowControlledStream<GenerateFinal> stream =
        new FlowControlledStream<>(call, handlerExecutor, 2, () -> cancel(handle));
    OutputOptions o = request.getOutput();
    run(
        call,
        handle,
        () -> job(request),
        new StreamListener(null) {
          @Override
          public void onFinish(FinalAnswer answer) {
            stream.send(ProtoAnswers.fin(answer, o.getReturnTokenIds(), o.getReturnLogprobs()));
            stream.complete();
          }

          @Override
          public void onError(ApiException error) {
            stream.fail(GrpcErrors.toStatus(error));
          }
        });
  }

  @Override
  public void generateStream(
      GenerateRequest request, StreamObserver<GenerateStreamResponse> response) {
    ServerCallStreamObserver<GenerateStreamResponse> call =
        (ServerCallStreamObserver<GenerateStreamResponse>) response;
    AtomicReference<Engine.Generation> handle = new AtomicReference<>();
    FlowControlledStream<GenerateStreamResponse> stream =
        new FlowControlledStream<>(
            call, handlerExecutor, MAX_BUFFERED_MESSAGES, () -> cancel(handle));
    run(
        call,
        handle,
        () -> job(request),
        streamListener(stream, request.getOutput(), a -> {}, () -> {}));
  }

  @Override
  public void abort(AbortRequest request, StreamObserver<AbortResponse> response) {
    List<FieldViolation> v = new ArrayList<>();
    if (request.getRequestId().isEmpty()) {
      v.add(new FieldViolation("request_id", "is required"));
    }
    RequestValidator.requestId("request_id", request.getRequestId(), v);
    if (!v.isEmpty()) {
      response.onError(GrpcErrors.toStatus(ApiException.invalid(v)));
      return;
    }
    response.onNext(
        AbortResponse.newBuilder()
            .setFound(engine.cancel(Tenants.current(), request.getRequestId()))
            .build());
    response.onCompleted();
  }

  /** A job from a Generate request; validated here. Handler thread. */
  private GenerationJob job(GenerateRequest r) {
    validator.validate(r);
    GenerationJob.Media media = mediaRefs.resolve(r.getMedia(), "media");
    return new GenerationJob(
        r.getRequestId(),
        media,
        ProtoRequests.clip(r.hasClip() ? r.getClip() : null, "clip"),
        ProtoRequests.question(r.getPrompt()),
        ProtoRequests.task(r.getTask()),
        ProtoRequests.sampling(r.getSampling(), r.getOutput().getReturnLogprobs()),
        ProtoRequests.priority(r.getPriority()),
        timeout(),
        null,
        List.of(),
        Tenants.current());
  }

  /** Supplies a job; may refuse it with an {@link ApiException}. */
  @FunctionalInterface
  interface JobSource {
    GenerationJob get();
  }

  /**
   * Runs a job on the engine. Must be called on the gRPC handler thread of {@code call} (it
   * installs the cancel handler). Every outcome ends {@code listener} exactly once, also when
   * building the job throws.
   */
  void run(
      ServerCallStreamObserver<?> call,
      AtomicReference<Engine.Generation> handle,
      JobSource job,
      AnswerListener listener) {
    call.setOnCancelHandler(() -> cancel(handle));
    GenerationJob j;
    try {
      if (draining.getAsBoolean()) {
        throw ApiException.of(Reason.NOT_READY, "the server is draining; retry on another replica");
      }
      j = job.get();
    } catch (RuntimeException e) {
      listener.onError(dev.llavast.server.generation.Failures.toApi(e));
      return;
    }
    try {
      handle.set(engine.start(j, listener));
    } catch (RuntimeException e) {
      // An unexpected failure still ends through the listener, which releases what the call holds
      // (a session's turn); CallGuard would only end the call.
      listener.onError(dev.llavast.server.generation.Failures.toApi(e));
      return;
    }
    if (call.isCancelled()) {
      cancel(handle);
    }
  }

  /**
   * A listener that streams deltas and the final message to {@code stream}; {@code onAnswer} sees
   * the final answer before it is sent, and {@code onTerminal} runs once after either terminal
   * message.
   */
  static AnswerListener streamListener(
      FlowControlledStream<GenerateStreamResponse> stream,
      OutputOptions o,
      Consumer<FinalAnswer> onAnswer,
      Runnable onTerminal) {
    return new StreamListener(onTerminal) {
      @Override
      public void onDelta(AnswerDelta delta) {
        stream.send(ProtoAnswers.delta(delta, o.getReturnTokenIds(), o.getReturnLogprobs()));
      }

      @Override
      public void onFinish(FinalAnswer answer) {
        onAnswer.accept(answer);
        stream.send(
            GenerateStreamResponse.newBuilder()
                .setFinal(ProtoAnswers.fin(answer, o.getReturnTokenIds(), o.getReturnLogprobs()))
                .build());
        stream.complete();
        terminal();
      }

      @Override
      public void onError(ApiException error) {
        stream.fail(GrpcErrors.toStatus(error));
        terminal();
      }
    };
  }

  /** Runs a terminal action at most once. */
  private abstract static class StreamListener implements AnswerListener {
    private final @Nullable Runnable onTerminal;
    private final AtomicBoolean done = new AtomicBoolean();

    StreamListener(@Nullable Runnable onTerminal) {
      this.onTerminal = onTerminal;
    }

    final void terminal() {
      if (onTerminal != null && done.compareAndSet(false, true)) {
        onTerminal.run();
      }
    }
  }

  /** The call's deadline as the engine's timeout (null: none). */
  static @Nullable Duration timeout() {
    Deadline d = Context.current().getDeadline();
    return d == null
        ? null
        : Duration.ofMillis(Math.max(0, d.timeRemaining(TimeUnit.MILLISECONDS)));
  }

  private static void cancel(AtomicReference<Engine.Generation> handle) {
    Engine.Generation h = handle.get();
    if (h != null) {
      h.cancel();
    }
  }
}

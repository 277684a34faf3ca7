package dev.llavast.server;

import com.google.rpc.Code;
import dev.llavast.api.v1.AbortRequest;
import dev.llavast.api.v1.AbortResponse;
import dev.llavast.api.v1.ErrorReason;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.Priority;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.Task;
import dev.llavast.models.coords.CoordinateCodec;
import dev.llavast.models.coords.TimeAxis;
import dev.llavast.models.sampling.SamplingPresets;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.models.tokenizer.PromptFormatException;
import dev.llavast.models.tokenizer.RenderedPrompt;
import dev.llavast.scheduler.GenerationRequest;
import dev.llavast.scheduler.PromptInput;
import dev.llavast.scheduler.RequestHandle;
import dev.llavast.scheduler.SamplingParams;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * {@code GenerationService}, and the generation path that {@code SessionService.Ask} shares.
 *
 * <p>Order of work for one request (ARCHITECTURE.md, "One request, end to end"): cheap validation;
 * the prompt is rendered once with provisional geometry (its length does not depend on coordinate
 * values, so admission gets an exact count and malformed shorthand fails here); admission to the
 * scheduler before any media is decoded; then the media is resolved (feature cache, or one decode
 * and one encode shared by every request for it), the prompt is rendered for the media's real
 * geometry and released to the scheduler. Tokens flow to a {@link GenerationSink} that writes to a
 * flow-controlled stream.
 *
 * <p>Handlers run on the gRPC handler executor and never block or touch tensors.
 */
final class GenerationServiceImpl extends GenerationServiceGrpc.GenerationServiceImplBase {
  /** Deltas buffered for a client that does not read before its call is failed. */
  static final int MAX_BUFFERED_MESSAGES = 4096;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final ServingRuntime rt;
  private final MediaPipeline pipeline;
  private final MediaRefResolver mediaRefs;
  private final RequestValidator validator;
  private final Executor handlerExecutor;
  private final BooleanSupplier draining;

  GenerationServiceImpl(ServingRuntime rt, MediaPipeline pipeline, MediaRefResolver mediaRefs,
      Executor handlerExecutor, BooleanSupplier draining) {
    this.rt = rt;
    this.pipeline = pipeline;
    this.mediaRefs = mediaRefs;
    this.validator = new RequestValidator(rt.config);
    this.handlerExecutor = handlerExecutor;
    this.draining = draining;
  }

  /** Everything one generation needs, from a GenerateRequest or a session's Ask. */
  record Job(
      String requestId,
      MediaRef media,
      dev.llavast.api.v1.ClipRange clip,
      Prompt prompt,
      Task task,
      dev.llavast.api.v1.SamplingParams sampling,
      Priority priority,
      OutputOptions output,
      String systemPrompt,
      List<ChatTemplate.Turn> history,
      Consumer<Answer> onAnswer,
      Runnable onTerminal) {}

  /** A finished answer: the question as rendered text, the generated ids and the final context length. */
  record Answer(String question, List<Integer> ids, int contextTokens) {}

  @Override
  public void generate(GenerateRequest request, StreamObserver<GenerateFinal> response) {
    ServerCallStreamObserver<GenerateFinal> call = (ServerCallStreamObserver<GenerateFinal>) response;
    AtomicReference<RequestHandle> handle = new AtomicReference<>();
    FlowControlledStream<GenerateFinal> stream = new FlowControlledStream<>(call, handlerExecutor, 2,
        () -> cancel(handle));
    GenerationSink.Output out = new GenerationSink.Output() {
      @Override
      public void delta(GenerateStreamResponse delta) {}

      @Override
      public void finish(GenerateStreamResponse fin) {
        stream.send(fin.getFinal());
        stream.complete();
      }

      @Override
      public void fail(StatusRuntimeException error) {
        stream.fail(error);
      }
    };
    start(jobOf(request), call, handle, out);
  }

  @Override
  public void generateStream(GenerateRequest request, StreamObserver<GenerateStreamResponse> response) {
    ServerCallStreamObserver<GenerateStreamResponse> call = (ServerCallStreamObserver<GenerateStreamResponse>) response;
    AtomicReference<RequestHandle> handle = new AtomicReference<>();
    FlowControlledStream<GenerateStreamResponse> stream = new FlowControlledStream<>(call, handlerExecutor,
        MAX_BUFFERED_MESSAGES, () -> cancel(handle));
    start(jobOf(request), call, handle, streamOutput(stream));
  }

  @Override
  public void abort(AbortRequest request, StreamObserver<AbortResponse> response) {
    if (request.getRequestId().isEmpty()) {
      response.onError(ApiErrors.invalidArgument(List.of(new ApiErrors.FieldViolation("request_id", "is required"))));
      return;
    }
    response.onNext(AbortResponse.newBuilder().setFound(rt.scheduler.cancel(request.getRequestId())).build());
    response.onCompleted();
  }

  static GenerationSink.Output streamOutput(FlowControlledStream<GenerateStreamResponse> stream) {
    return new GenerationSink.Output() {
      @Override
      public void delta(GenerateStreamResponse delta) {
        stream.send(delta);
      }

      @Override
      public void finish(GenerateStreamResponse fin) {
        stream.send(fin);
        stream.complete();
      }

      @Override
      public void fail(StatusRuntimeException error) {
        stream.fail(error);
      }
    };
  }

  private Job jobOf(GenerateRequest r) {
    return new Job(r.getRequestId(), r.getMedia(), r.hasClip() ? r.getClip() : null, r.getPrompt(), r.getTask(),
        r.hasSampling() ? r.getSampling() : dev.llavast.api.v1.SamplingParams.getDefaultInstance(),
        r.getPriority(), r.getOutput(), null, List.of(), a -> {}, () -> {});
  }

  /**
   * Runs a job. Must be called on the gRPC handler thread of {@code call} (it installs the cancel
   * handler). Every outcome ends {@code out} exactly once and runs {@code job.onTerminal()} once.
   */
  void start(Job job, ServerCallStreamObserver<?> call, AtomicReference<RequestHandle> handle,
      GenerationSink.Output rawOut) {
    long arrival = System.nanoTime();
    GenerationSink.Output out = onceTerminal(rawOut, job.onTerminal());
    call.setOnCancelHandler(() -> cancel(handle));
    try {
      if (draining.getAsBoolean()) {
        throw ApiErrors.of(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_NOT_READY,
            "the server is draining; retry on another replica");
      }
      validate(job);
      String requestId = job.requestId().isEmpty() ? newRequestId() : job.requestId();
      MediaKind kind = kindOf(job.media());
      ChatTemplate.Media media = kind == MediaKind.MEDIA_KIND_IMAGE ? ChatTemplate.Media.IMAGE : ChatTemplate.Media.VIDEO;
      MediaStore.StoredMedia stored = job.media().getSourceCase() == MediaRef.SourceCase.MEDIA_ID
          ? rt.mediaStore.get(job.media().getMediaId()).orElseThrow(
              () -> MediaServiceImpl.notFound(job.media().getMediaId()))
          : null;
      dev.llavast.models.media.ClipRange clip = MediaPipeline.clipOf(job.clip(), "clip");

      // Render once with provisional geometry: the length is exact (each coordinate is one value
      // token whatever its value) and malformed shorthand is refused before anything is queued.
      RenderedPrompt provisional = render(job, media, new PromptRenderer.Geometry(2, 1, 1, 1));
      SamplingParams sampling = sampling(job.sampling(), job.output());
      Duration timeout = timeout();
      CompletableFuture<PromptInput> prompt = new CompletableFuture<>();
      GenerationSink sink = new GenerationSink(job.sampling().getStopList(), rt.model.tokenizer().newStreamDecoder(),
          out, rt.metrics, System::nanoTime, ids -> {});
      RequestHandle h = rt.scheduler.submit(new GenerationRequest(requestId, prompt, provisional.tokenIds().length,
          stored == null ? null : stored.mediaId(), sampling, priorityOf(job.priority()), timeout), sink);
      handle.set(h);
      if (call.isCancelled()) {
        h.cancel();
      }

      // Media work starts only after admission.
      CompletableFuture<MediaStore.StoredMedia> storedFuture = stored != null
          ? CompletableFuture.completedFuture(stored)
          : mediaRefs.resolve(job.media(), "media");
      long mediaStart = System.nanoTime();
      storedFuture
          .thenCompose(s -> pipeline.resolve(s, clip, OptionalInt.empty()).thenApply(r -> new Object[] {s, r}))
          .whenComplete((pair, error) -> {
            if (error != null) {
              prompt.completeExceptionally(SchedulerErrors.toStatus(error));
              return;
            }
            try {
              MediaStore.StoredMedia s = (MediaStore.StoredMedia) pair[0];
              MediaPipeline.Resolved r = (MediaPipeline.Resolved) pair[1];
              bindAndRelease(job, requestId, s, r, media, sink, prompt, arrival, mediaStart);
            } catch (RuntimeException e) {
              prompt.completeExceptionally(e);
            }
          });
    } catch (StatusRuntimeException e) {
      fail(out, e);
    } catch (PromptFormatException e) {
      fail(out, ApiErrors.invalidArgument(List.of(new ApiErrors.FieldViolation("prompt", e.getMessage()))));
    } catch (dev.llavast.scheduler.SchedulerException e) {
      fail(out, SchedulerErrors.toStatus(e));
    } catch (IllegalArgumentException e) {
      fail(out, ApiErrors.invalidArgument(List.of(new ApiErrors.FieldViolation("sampling", e.getMessage()))));
    }
  }

  private void fail(GenerationSink.Output out, StatusRuntimeException e) {
    if (rt.metrics != null) {
      rt.metrics.requestFailure.labelValues(SchedulerErrors.reasonOf(e)).inc();
    }
    out.fail(e);
  }

  /** Media resolved: render the real prompt, bind the sink's context and hand the prompt to the scheduler. */
  private void bindAndRelease(Job job, String requestId, MediaStore.StoredMedia stored, MediaPipeline.Resolved r,
      ChatTemplate.Media media, GenerationSink sink, CompletableFuture<PromptInput> prompt, long arrival,
      long mediaStart) {
    MediaPipeline.Geometry g = r.geometry();
    String question = PromptRenderer.render(job.prompt(), job.task(),
        new PromptRenderer.Geometry(g.clipFrameCount(), g.fps(), g.widthPx(), g.heightPx()));
    RenderedPrompt rendered = chat(job, media, question);
    CoordinateCodec codec = rt.model.codec();
    TimeAxis time = g.video() && g.fps() > 0 ? codec.time(g.clipStartFrame(), g.clipEndFrame(), g.fps()) : null;
    double mediaSeconds = (System.nanoTime() - mediaStart) / 1e9;
    double decode = r.decodeTime().toNanos() / 1e9;
    double encode = r.encodeTime().toNanos() / 1e9;
    GenerationSink.Context ctx = new GenerationSink.Context(requestId, stored.mediaId(),
        GenerationSink.task(job.task()), job.task(), job.output(), job.sampling().getStopList(),
        g.clipStartSeconds(), arrival, decode, encode, Math.max(0, mediaSeconds - decode - encode), r.cacheHit(),
        rendered.visualLength());
    sink.bind(ctx, codec.parser(time, codec.space(g.widthPx(), g.heightPx())));
    sink.onAnswer(ids -> job.onAnswer().accept(new Answer(question, ids, rendered.tokenIds().length + ids.size())));
    prompt.complete(rendered.toPromptInput(r.features()));
  }

  private RenderedPrompt render(Job job, ChatTemplate.Media media, PromptRenderer.Geometry g) {
    return chat(job, media, PromptRenderer.render(job.prompt(), job.task(), g));
  }

  /** The whole conversation (system prompt, earlier turns, this question) as token ids. */
  private RenderedPrompt chat(Job job, ChatTemplate.Media media, String question) {
    String system = job.systemPrompt() == null || job.systemPrompt().isEmpty() ? null : job.systemPrompt();
    return rt.model.chatTemplate().render(system, media, job.history(), question);
  }

  private void validate(Job job) {
    GenerateRequest.Builder b = GenerateRequest.newBuilder()
        .setRequestId(job.requestId())
        .setMedia(job.media())
        .setPrompt(job.prompt())
        .setSampling(job.sampling());
    if (job.clip() != null) {
      b.setClip(job.clip());
    }
    validator.validate(b.build());
  }

  private MediaKind kindOf(MediaRef ref) {
    switch (ref.getSourceCase()) {
      case MEDIA_ID:
        return rt.mediaStore.get(ref.getMediaId()).map(MediaStore.StoredMedia::kind)
            .orElseThrow(() -> MediaServiceImpl.notFound(ref.getMediaId()));
      case IMAGE_BYTES:
        return MediaKind.MEDIA_KIND_IMAGE;
      case FRAMES:
        return MediaKind.MEDIA_KIND_FRAMES;
      default:
        return MediaKind.MEDIA_KIND_VIDEO;
    }
  }

  private SamplingParams sampling(dev.llavast.api.v1.SamplingParams s, OutputOptions output) {
    int max = s.getMaxNewTokens() == 0 ? rt.config.defaultMaxNewTokens() : s.getMaxNewTokens();
    long seed = s.hasSeed() ? s.getSeed() : 0L;
    int[] stops = rt.model.stopTokenIds();
    if (s.getReferencePreset()) {
      SamplingParams ref = SamplingPresets.reference(seed, max, stops);
      return new SamplingParams(ref.temperature(), ref.topP(), ref.topK(), ref.repetitionPenalty(), seed, max,
          stops, output.getReturnLogprobs());
    }
    return new SamplingParams(s.getTemperature(), s.getTopP() == 0 ? 1f : s.getTopP(), s.getTopK(),
        s.getRepetitionPenalty() == 0 ? 1f : s.getRepetitionPenalty(), seed, max, stops, output.getReturnLogprobs());
  }

  private static int priorityOf(Priority p) {
    switch (p) {
      case PRIORITY_LOW:
        return -1;
      case PRIORITY_HIGH:
        return 1;
      default:
        return 0;
    }
  }

  /** The call's deadline as the scheduler's timeout (null: none). */
  private static Duration timeout() {
    Deadline d = Context.current().getDeadline();
    return d == null ? null : Duration.ofMillis(Math.max(0, d.timeRemaining(TimeUnit.MILLISECONDS)));
  }

  private static void cancel(AtomicReference<RequestHandle> handle) {
    RequestHandle h = handle.get();
    if (h != null) {
      h.cancel();
    }
  }

  private static String newRequestId() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return "req-" + HexFormat.of().formatHex(b);
  }

  /** Wraps an output so that {@code onTerminal} runs exactly once, after the terminal message. */
  private static GenerationSink.Output onceTerminal(GenerationSink.Output out, Runnable onTerminal) {
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    return new GenerationSink.Output() {
      @Override
      public void delta(GenerateStreamResponse delta) {
        out.delta(delta);
      }

      @Override
      public void finish(GenerateStreamResponse fin) {
        out.finish(fin);
        if (done.compareAndSet(false, true)) {
          onTerminal.run();
        }
      }

      @Override
      public void fail(StatusRuntimeException error) {
        out.fail(error);
        if (done.compareAndSet(false, true)) {
          onTerminal.run();
        }
      }
    };
  }
}

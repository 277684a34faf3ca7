package dev.llavast.server;

import dev.llavast.api.v1.AskRequest;
import dev.llavast.api.v1.CloseSessionRequest;
import dev.llavast.api.v1.CreateSessionRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GetSessionRequest;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionServiceGrpc;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.scheduler.RequestHandle;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code SessionService}: conversations about one media item. Each {@code Ask} renders the whole
 * conversation (earlier questions, and earlier answers fed back as their generated ids, coordinate
 * tokens included), so the video's KV prefix is reused from the prefix cache and only the new
 * turn is prefilled. Handlers never block.
 */
final class SessionServiceImpl extends SessionServiceGrpc.SessionServiceImplBase {
  private final ServingRuntime rt;
  private final GenerationServiceImpl generation;
  private final MediaPipeline pipeline;
  private final MediaRefResolver mediaRefs;
  private final Executor handlerExecutor;

  SessionServiceImpl(ServingRuntime rt, GenerationServiceImpl generation, MediaPipeline pipeline,
      MediaRefResolver mediaRefs, Executor handlerExecutor) {
    this.rt = rt;
    this.generation = generation;
    this.pipeline = pipeline;
    this.mediaRefs = mediaRefs;
    this.handlerExecutor = handlerExecutor;
  }

  @Override
  public void createSession(CreateSessionRequest request, StreamObserver<SessionInfo> response) {
    try {
      dev.llavast.models.media.ClipRange clip = MediaPipeline.clipOf(request.hasClip() ? request.getClip() : null,
          "clip");
      List<ApiErrors.FieldViolation> v = new ArrayList<>();
      if (request.getSystemPrompt().length() > RequestValidator.MAX_PROMPT_CHARS) {
        v.add(new ApiErrors.FieldViolation("system_prompt", "has " + request.getSystemPrompt().length()
            + " characters, more than " + RequestValidator.MAX_PROMPT_CHARS));
      }
      if (!Double.isFinite(request.getTtlSeconds()) || request.getTtlSeconds() < 0) {
        v.add(new ApiErrors.FieldViolation("ttl_seconds",
            "must be a finite number >= 0 (0 = server default), got " + request.getTtlSeconds()));
      }
      RequestValidator.throwIfAny(v);
    } catch (StatusRuntimeException e) {
      response.onError(e);
      return;
    }
    mediaRefs.resolve(request.getMedia(), "media").whenComplete((media, error) -> {
      if (error != null) {
        response.onError(SchedulerErrors.toStatus(error));
        return;
      }
      try {
        MediaPipeline.checkClip(media, MediaPipeline.clipOf(request.hasClip() ? request.getClip() : null, "clip"));
        SessionStore.Session s = rt.sessions.create(media.mediaId(),
            request.hasClip() ? request.getClip() : dev.llavast.api.v1.ClipRange.getDefaultInstance(),
            request.getSystemPrompt(), request.getTtlSeconds());
        // Start loading the features now, so the first question does not wait for them.
        pipeline.resolve(media, MediaPipeline.clipOf(request.hasClip() ? request.getClip() : null, "clip"),
            OptionalInt.empty());
        response.onNext(s.info());
        response.onCompleted();
      } catch (StatusRuntimeException e) {
        response.onError(e);
      }
    });
  }

  @Override
  public void ask(AskRequest request, StreamObserver<GenerateStreamResponse> response) {
    ServerCallStreamObserver<GenerateStreamResponse> call = (ServerCallStreamObserver<GenerateStreamResponse>) response;
    AtomicReference<RequestHandle> handle = new AtomicReference<>();
    FlowControlledStream<GenerateStreamResponse> stream = new FlowControlledStream<>(call, handlerExecutor,
        GenerationServiceImpl.MAX_BUFFERED_MESSAGES, () -> {
          RequestHandle h = handle.get();
          if (h != null) {
            h.cancel();
          }
        });
    GenerationSink.Output out = GenerationServiceImpl.streamOutput(stream);
    SessionStore.AskTurn turn;
    try {
      turn = rt.sessions.beginAsk(request.getSessionId());
    } catch (StatusRuntimeException e) {
      out.fail(e);
      return;
    }
    SessionStore.Session s = turn.session;
    List<ChatTemplate.Turn> history = new ArrayList<>();
    for (SessionStore.Turn t : s.turns()) {
      history.add(ChatTemplate.Turn.ids(t.question(), t.answerTokenIds()));
    }
    GenerationServiceImpl.Job job = new GenerationServiceImpl.Job(request.getRequestId(),
        MediaRef.newBuilder().setMediaId(s.mediaId).build(),
        s.clip.getStartSeconds() == 0 && s.clip.getEndSeconds() == 0 ? null : s.clip,
        request.getPrompt(), request.getTask(),
        request.hasSampling() ? request.getSampling() : dev.llavast.api.v1.SamplingParams.getDefaultInstance(),
        request.getPriority(), request.getOutput(), s.systemPrompt, history,
        a -> turn.commit(new SessionStore.Turn(a.question(), replayableIds(a.ids(), rt.model.specialTokens()),
            a.contextTokens())),
        turn::close);
    generation.start(job, call, handle, out);
  }

  /**
   * The generated ids of an answer as a later turn replays them. A control or media-marker token,
   * or a bare value slot, in an answer (a trained model does not write them; random weights do) is
   * dropped: the chat template refuses such ids in an assistant turn, so keeping one would fail
   * every later Ask of the session. Any thread.
   */
  static int[] replayableIds(List<Integer> ids, dev.llavast.models.tokenizer.SpecialTokens sp) {
    return ids.stream().mapToInt(Integer::intValue)
        .filter(id -> id >= 0 && id < sp.extendedVocabSize() && !sp.isControl(id) && !sp.isValueSlot(id))
        .toArray();
  }

  @Override
  public void getSession(GetSessionRequest request, StreamObserver<SessionInfo> response) {
    try {
      response.onNext(rt.sessions.find(request.getSessionId()).info());
      response.onCompleted();
    } catch (StatusRuntimeException e) {
      response.onError(e);
    }
  }

  @Override
  public void closeSession(CloseSessionRequest request, StreamObserver<SessionInfo> response) {
    try {
      response.onNext(rt.sessions.close(request.getSessionId()));
      response.onCompleted();
    } catch (StatusRuntimeException e) {
      response.onError(e);
    }
  }
}

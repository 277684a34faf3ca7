package dev.llavast.server.grpc;

import dev.llavast.api.v1.AskRequest;
import dev.llavast.api.v1.CloseSessionRequest;
import dev.llavast.api.v1.CreateSessionRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GetSessionRequest;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionServiceGrpc;
import dev.llavast.api.v1.SessionState;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.server.errors.FieldViolation;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.GenerationJob;
import dev.llavast.server.media.Clips;
import dev.llavast.server.session.SessionStore;
import dev.llavast.server.tenancy.Tenant;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code SessionService}: conversations about one media item. Each {@code Ask} renders the whole
 * conversation (earlier questions, and earlier answers fed back as their generated ids, coordinate
 * tokens included), so the video's KV prefix is reused from the prefix cache and only the new turn
 * is prefilled. Handlers never block.
 */
final class SessionServiceImpl extends SessionServiceGrpc.SessionServiceImplBase {
  private final Engine engine;
  private final SessionStore sessions;
  private final GenerationServiceImpl generation;
  private final RequestValidator validator;
  private final MediaRefResolver mediaRefs;
  private final Executor handlerExecutor;

  SessionServiceImpl(
      Engine engine,
      GenerationServiceImpl generation,
      RequestValidator validator,
      Executor handlerExecutor) {
    this.engine = engine;
    this.sessions = engine.sessions();
    this.generation = generation;
    this.validator = validator;
    this.mediaRefs = MediaRefResolver.of(engine);
    this.handlerExecutor = handlerExecutor;
  }

  @Override
  public void createSession(CreateSessionRequest request, StreamObserver<SessionInfo> response) {
    ClipRange clip;
    GenerationJob.Media media;
    try {
      List<FieldViolation> v = new ArrayList<>();
      if (request.hasClip()) {
        RequestValidator.clip("clip", request.getClip(), v);
      }
      if (request.getSystemPrompt().length() > RequestValidator.MAX_PROMPT_CHARS) {
        v.add(
            new FieldViolation(
                "system_prompt",
                "has "
                    + request.getSystemPrompt().length()
                    + " characters, more than "
                    + RequestValidator.MAX_PROMPT_CHARS));
      }
      if (!Double.isFinite(request.getTtlSeconds()) || request.getTtlSeconds() < 0) {
        v.add(
            new FieldViolation(
                "ttl_seconds",
                "must be a finite number >= 0 (0 = server default), got "
                    + request.getTtlSeconds()));
      }
      validator.media("media", request.getMedia(), v);
      validator.throwIfAny(request.getMedia(), v);
      clip = ProtoRequests.clip(request.hasClip() ? request.getClip() : null, "clip");
      media = mediaRefs.resolve(request.getMedia(), "media");
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.toStatus(e));
      return;
    }
    media
        .stored()
        .whenComplete(
            (stored, error) -> {
              if (error != null) {
                response.onError(GrpcErrors.toStatus(error));
                return;
              }
              try {
                Clips.checkAgainst(stored, clip);
                SessionStore.Session s =
                    sessions.create(
                        Tenants.current(),
                        stored.mediaId(),
                        clip,
                        request.getSystemPrompt(),
                        request.getTtlSeconds());
                // Start loading the features now, so the first question does not wait for them.
                engine.prefetch(stored, clip);
                response.onNext(info(s.info()));
                response.onCompleted();
              } catch (RuntimeException e) {
                response.onError(GrpcErrors.toStatus(e));
              }
            });
  }

  @Override
  public void ask(AskRequest request, StreamObserver<GenerateStreamResponse> response) {
    ServerCallStreamObserver<GenerateStreamResponse> call =
        (ServerCallStreamObserver<GenerateStreamResponse>) response;
    AtomicReference<Engine.Generation> handle = new AtomicReference<>();
    FlowControlledStream<GenerateStreamResponse> stream =
        new FlowControlledStream<>(
            call,
            handlerExecutor,
            GenerationServiceImpl.MAX_BUFFERED_MESSAGES,
            () -> {
              Engine.Generation h = handle.get();
              if (h != null) {
                h.cancel();
              }
            });
    AtomicReference<SessionStore.AskTurn> turn = new AtomicReference<>();
    generation.run(
        call,
        handle,
        () -> {
          List<FieldViolation> v = new ArrayList<>();
          validator.question(
              request.getRequestId(),
              request.hasPrompt() ? request.getPrompt() : null,
              request.getTaskValue(),
              request.getPriorityValue(),
              request.hasSampling() ? request.getSampling() : null,
              v);
          RequestValidator.throwIfAny(v);
          SessionStore.AskTurn t = sessions.beginAsk(Tenants.current(), request.getSessionId());
          turn.set(t);
          SessionStore.Session s = t.session;
          List<ChatTemplate.Turn> history = new ArrayList<>();
          for (SessionStore.Turn past : s.turns()) {
            history.add(ChatTemplate.Turn.ids(past.question(), past.answerTokenIds()));
          }
          Tenant tenant = Tenants.current();
          return new GenerationJob(
              request.getRequestId(),
              GenerationJob.Media.of(engine.media(tenant, s.mediaId)),
              s.clip,
              ProtoRequests.question(request.getPrompt()),
              ProtoRequests.task(request.getTask()),
              ProtoRequests.sampling(
                  request.getSampling(), request.getOutput().getReturnLogprobs()),
              ProtoRequests.priority(request.getPriority()),
              GenerationServiceImpl.timeout(),
              s.systemPrompt,
              history,
              tenant);
        },
        GenerationServiceImpl.streamListener(
            stream,
            request.getOutput(),
            a ->
                Objects.requireNonNull(turn.get(), "set when the job is built")
                    .commit(
                        new SessionStore.Turn(
                            a.question(),
                            replayableIds(a.tokenIds(), engine.model().specialTokens()),
                            a.prompt().length() + a.tokenIds().length)),
            () -> {
              SessionStore.AskTurn t = turn.get();
              if (t != null) {
                t.close();
              }
            }));
  }

  /**
   * The generated ids of an answer as a later turn replays them. A control or media-marker token,
   * or a bare value slot, in an answer (a trained model does not write them; random weights do) is
   * dropped: the chat template refuses such ids in an assistant turn, so keeping one would fail
   * every later Ask of the session. Any thread.
   */
  static int[] replayableIds(int[] ids, dev.llavast.models.tokenizer.SpecialTokens sp) {
    return java.util.Arrays.stream(ids)
        .filter(
            id ->
                id >= 0 && id < sp.extendedVocabSize() && !sp.isControl(id) && !sp.isValueSlot(id))
        .toArray();
  }

  @Override
  public void getSession(GetSessionRequest request, StreamObserver<SessionInfo> response) {
    try {
      response.onNext(info(sessions.find(Tenants.current(), request.getSessionId()).info()));
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.toStatus(e));
    }
  }

  @Override
  public void closeSession(CloseSessionRequest request, StreamObserver<SessionInfo> response) {
    try {
      response.onNext(info(sessions.close(Tenants.current(), request.getSessionId())));
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(GrpcErrors.toStatus(e));
    }
  }

  private static SessionInfo info(SessionStore.Snapshot s) {
    return SessionInfo.newBuilder()
        .setSessionId(s.sessionId())
        .setMediaId(s.mediaId())
        .setState(
            switch (s.state()) {
              case OPEN -> SessionState.SESSION_STATE_OPEN;
              case CLOSED -> SessionState.SESSION_STATE_CLOSED;
              case EXPIRED -> SessionState.SESSION_STATE_EXPIRED;
            })
        .setTurns(s.turns())
        .setContextTokens(s.contextTokens())
        .setExpiresInSeconds(s.expiresInSeconds())
        .build();
  }
}

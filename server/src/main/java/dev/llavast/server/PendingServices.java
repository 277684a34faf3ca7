package dev.llavast.server;

import dev.llavast.api.v1.AbortRequest;
import dev.llavast.api.v1.AbortResponse;
import dev.llavast.api.v1.AskRequest;
import dev.llavast.api.v1.CloseSessionRequest;
import dev.llavast.api.v1.CreateSessionRequest;
import dev.llavast.api.v1.DeleteMediaRequest;
import dev.llavast.api.v1.DeleteMediaResponse;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.GetSessionRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionServiceGrpc;
import dev.llavast.api.v1.UploadMediaRequest;
import io.grpc.stub.StreamObserver;

/**
 * The services of the API whose implementation has not landed in this build. Every method answers
 * {@code UNIMPLEMENTED} with reason {@code NOT_IMPLEMENTED} and a message that names what is
 * missing, so clients (and the reflection listing) already see the whole API.
 */
final class PendingServices {
  private static final String SERVING = "generation over the scheduler and the model lands with the serving issue";

  private PendingServices() {}

  static final class Media extends MediaServiceGrpc.MediaServiceImplBase {
    @Override
    public StreamObserver<UploadMediaRequest> uploadMedia(StreamObserver<MediaInfo> response) {
      response.onError(ApiErrors.notImplemented("MediaService.UploadMedia", "media storage " + SERVING));
      return new StreamObserver<>() {
        @Override
        public void onNext(UploadMediaRequest value) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }

    @Override
    public void getMedia(GetMediaRequest request, StreamObserver<MediaInfo> response) {
      response.onError(ApiErrors.notImplemented("MediaService.GetMedia", "media storage " + SERVING));
    }

    @Override
    public void deleteMedia(DeleteMediaRequest request, StreamObserver<DeleteMediaResponse> response) {
      response.onError(ApiErrors.notImplemented("MediaService.DeleteMedia", "media storage " + SERVING));
    }
  }

  static final class Generation extends GenerationServiceGrpc.GenerationServiceImplBase {
    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateFinal> response) {
      response.onError(ApiErrors.notImplemented("GenerationService.Generate", SERVING));
    }

    @Override
    public void generateStream(GenerateRequest request, StreamObserver<GenerateStreamResponse> response) {
      response.onError(ApiErrors.notImplemented("GenerationService.GenerateStream", SERVING));
    }

    @Override
    public void abort(AbortRequest request, StreamObserver<AbortResponse> response) {
      response.onError(ApiErrors.notImplemented("GenerationService.Abort", SERVING));
    }
  }

  static final class Sessions extends SessionServiceGrpc.SessionServiceImplBase {
    @Override
    public void createSession(CreateSessionRequest request, StreamObserver<SessionInfo> response) {
      response.onError(ApiErrors.notImplemented("SessionService.CreateSession", "sessions: " + SERVING));
    }

    @Override
    public void ask(AskRequest request, StreamObserver<GenerateStreamResponse> response) {
      response.onError(ApiErrors.notImplemented("SessionService.Ask", "sessions: " + SERVING));
    }

    @Override
    public void getSession(GetSessionRequest request, StreamObserver<SessionInfo> response) {
      response.onError(ApiErrors.notImplemented("SessionService.GetSession", "sessions: " + SERVING));
    }

    @Override
    public void closeSession(CloseSessionRequest request, StreamObserver<SessionInfo> response) {
      response.onError(ApiErrors.notImplemented("SessionService.CloseSession", "sessions: " + SERVING));
    }
  }
}

package dev.llavast.server;

import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GetModelInfoRequest;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.ServerStatus;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/**
 * {@code AdminService}: model facts and server status. Handlers run on the gRPC handler executor
 * and only read snapshots; they never touch tensors.
 */
final class AdminService extends AdminServiceGrpc.AdminServiceImplBase {
  private final Supplier<ServerStatus> status;

  /** @param status builds a fresh status snapshot; called on handler threads, must be thread-safe */
  AdminService(Supplier<ServerStatus> status) {
    this.status = status;
  }

  @Override
  public void getModelInfo(GetModelInfoRequest request, StreamObserver<ModelInfo> response) {
    response.onError(ApiErrors.notImplemented("AdminService.GetModelInfo",
        "no model is loaded in this build; model loading lands with the model issue"));
  }

  @Override
  public void getServerStatus(GetServerStatusRequest request, StreamObserver<ServerStatus> response) {
    response.onNext(status.get());
    response.onCompleted();
  }
}

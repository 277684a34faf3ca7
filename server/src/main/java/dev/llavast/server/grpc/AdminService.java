package dev.llavast.server.grpc;

import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GetModelInfoRequest;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * {@code AdminService}: model facts and server status. Handlers run on the gRPC handler executor
 * and only read snapshots; they never touch tensors.
 */
final class AdminService extends AdminServiceGrpc.AdminServiceImplBase {
  private final Supplier<ServerStatus> status;
  private final Supplier<Optional<ModelInfo>> modelInfo;

  /**
   * @param status builds a fresh status snapshot; called on handler threads, must be thread-safe
   * @param modelInfo the loaded model's facts, or empty when no model is loaded
   */
  AdminService(Supplier<ServerStatus> status, Supplier<Optional<ModelInfo>> modelInfo) {
    this.status = status;
    this.modelInfo = modelInfo;
  }

  @Override
  public void getModelInfo(GetModelInfoRequest request, StreamObserver<ModelInfo> response) {
    Optional<ModelInfo> info = modelInfo.get();
    if (info.isEmpty()) {
      response.onError(
          GrpcErrors.toStatus(
              ApiException.of(
                  Reason.NOT_IMPLEMENTED,
                  "AdminService.GetModelInfo is not available: no model is loaded in this server")));
      return;
    }
    response.onNext(info.get());
    response.onCompleted();
  }

  @Override
  public void getServerStatus(
      GetServerStatusRequest request, StreamObserver<ServerStatus> response) {
    response.onNext(status.get());
    response.onCompleted();
  }
}

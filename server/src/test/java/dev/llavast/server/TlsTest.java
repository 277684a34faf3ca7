package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.GetModelInfoRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the gRPC port with client certificates (mutual TLS), certificates made by the openssl CLI
 * for the test (skipped where it is missing): a client with a certificate from the CA gets answers;
 * one without a certificate, and one speaking plaintext, do not.
 */
@Timeout(300)
class TlsTest {
  @TempDir Path dir;

  private void openssl(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", cmd) + ": " + out).isZero();
  }

  private static boolean hasOpenssl() {
    try {
      return new ProcessBuilder("openssl", "version").start().waitFor() == 0;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void onlyAClientWithACertificateFromTheCaIsServed() throws Exception {
    Assumptions.assumeTrue(hasOpenssl(), "the openssl CLI is not installed");
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=llavast test CA");
    Files.writeString(dir.resolve("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    for (String who : List.of("server", "client")) {
      openssl(
          "req",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          who + ".key",
          "-out",
          who + ".csr",
          "-subj",
          "/CN=" + who);
      openssl(
          "x509",
          "-req",
          "-in",
          who + ".csr",
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-out",
          who + ".pem",
          "-days",
          "2",
          "-extfile",
          "san.ext");
    }
    ServerConfig config =
        E2eClient.config(
                E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 17), "cpu", 8, 16 << 20, 0, 4)
            .toBuilder()
            .security(
                new ServerConfig.Security(
                    Optional.empty(),
                    false,
                    Optional.of(dir.resolve("server.pem")),
                    Optional.of(dir.resolve("server.key")),
                    Optional.of(dir.resolve("ca.pem"))))
            .build();
    try (Serving serving = Serving.start(config)) {
      int port = serving.server().port();
      ManagedChannel good =
          NettyChannelBuilder.forAddress("127.0.0.1", port)
              .sslContext(
                  GrpcSslContexts.configure(
                          SslContextBuilder.forClient()
                              .trustManager(dir.resolve("ca.pem").toFile())
                              .keyManager(
                                  dir.resolve("client.pem").toFile(),
                                  dir.resolve("client.key").toFile()))
                      .build())
              .build();
      ManagedChannel noCert =
          NettyChannelBuilder.forAddress("127.0.0.1", port)
              .sslContext(
                  GrpcSslContexts.configure(
                          SslContextBuilder.forClient()
                              .trustManager(dir.resolve("ca.pem").toFile()))
                      .build())
              .build();
      ManagedChannel plain =
          NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
      try {
        assertThat(
                AdminServiceGrpc.newBlockingStub(good)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .getModelInfo(GetModelInfoRequest.getDefaultInstance())
                    .getModelName())
            .isNotEmpty();
        for (ManagedChannel refused : List.of(noCert, plain)) {
          StatusRuntimeException e =
              catchThrowableOfType(
                  StatusRuntimeException.class,
                  () ->
                      AdminServiceGrpc.newBlockingStub(refused)
                          .withDeadlineAfter(30, TimeUnit.SECONDS)
                          .getModelInfo(GetModelInfoRequest.getDefaultInstance()));
          assertThat(e).isNotNull();
          assertThat(e.getStatus().getCode()).isIn(Status.Code.UNAVAILABLE, Status.Code.INTERNAL);
        }
      } finally {
        for (ManagedChannel c : List.of(good, noCert, plain)) {
          c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    }
  }
}

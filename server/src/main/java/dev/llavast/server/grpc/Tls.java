package dev.llavast.server.grpc;

import dev.llavast.server.ServerConfig;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import javax.net.ssl.SSLException;

/**
 * TLS for the gRPC port from PEM files: a certificate chain and key, and optionally a client CA
 * (mutual TLS).
 */
final class Tls {
  private Tls() {}

  static SslContext serverContext(ServerConfig.Security s) throws IOException {
    SslContextBuilder b =
        SslContextBuilder.forServer(
            s.tlsCert().orElseThrow().toFile(), s.tlsKey().orElseThrow().toFile());
    if (s.tlsClientCa().isPresent()) {
      b.trustManager(s.tlsClientCa().get().toFile()).clientAuth(ClientAuth.REQUIRE);
    }
    try {
      return GrpcSslContexts.configure(b).build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IOException("cannot use the TLS certificate and key (" + e.getMessage() + ")", e);
    }
  }
}

package dev.llavast.client.fake;

import dev.llavast.client.bench.EmbeddedServer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/** Test provider of the bench's embedded-server hook: starts a {@link FakeLlavaStServer}. */
public final class FakeEmbeddedServerProvider implements EmbeddedServer.Provider {
  /** The last server started, for assertions. */
  public static final AtomicReference<FakeLlavaStServer> LAST = new AtomicReference<>();

  @Override
  public String name() {
    return "fake";
  }

  @Override
  public EmbeddedServer start(Map<String, String> options) throws Exception {
    FakeLlavaStServer s = FakeLlavaStServer.start();
    s.tokenDelay(Duration.ofMillis(Long.parseLong(options.getOrDefault("token-delay-ms", "0"))));
    LAST.set(s);
    return new EmbeddedServer() {
      @Override
      public String target() {
        return s.target();
      }

      @Override
      public void close() {
        s.close();
      }
    };
  }
}

package dev.llavast.server.http;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.observability.Metrics;
import dev.llavast.server.tenancy.ApiKeys;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible HTTP/1.1 door on Netty: a second transport into the same {@link Engine} as
 * gRPC (same admission, caches, media store, metrics and drain). Routes in {@link OpenAiHandler}.
 *
 * <p>Thread-safe. {@link #start} binds; {@link #markReady} opens chat completions once the engine
 * passed its warm-up; {@link #drain} refuses new requests (503), lets running answers finish within
 * a timeout, then closes every connection.
 */
public final class HttpApiServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpApiServer.class);

  /** Largest request body: base64 media inline in a chat request (413 above). */
  public static final int MAX_BODY_BYTES = 64 << 20;

  private final Engine engine;
  private final Metrics metrics;
  private final ApiKeys keys;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final ChannelGroup channels =
      new DefaultChannelGroup("llavast-http", GlobalEventExecutor.INSTANCE);
  private final AtomicInteger inFlight = new AtomicInteger();
  private final long startedEpochSeconds = System.currentTimeMillis() / 1000;
  private volatile boolean ready;
  private volatile boolean draining;
  private @Nullable Channel server;
  private final long maxInlineMediaBytes;

  private HttpApiServer(Engine engine, Metrics metrics, ApiKeys keys, long maxInlineMediaBytes) {
    this.maxInlineMediaBytes = maxInlineMediaBytes;
    this.engine = engine;
    this.metrics = metrics;
    this.keys = keys;
    this.boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    this.workers = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  /**
   * Binds {@code host:port} (0 picks a free port). Every route but {@code /health} needs one of
   * {@code keys} ({@code Authorization: Bearer <key>}) when there are keys. Media inline in a chat
   * request (data: URLs, decoded) are capped at {@code maxInlineMediaBytes} in all.
   *
   * @throws IOException if the port cannot be bound
   */
  public static HttpApiServer start(
      String host, int port, Engine engine, Metrics metrics, ApiKeys keys, long maxInlineMediaBytes)
      throws IOException {
    HttpApiServer s = new HttpApiServer(engine, metrics, keys, maxInlineMediaBytes);
    try {
      s.server =
          new ServerBootstrap()
              .group(s.boss, s.workers)
              .channel(NioServerSocketChannel.class)
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      s.channels.add(ch);
                      ch.pipeline()
                          .addLast(new HttpServerCodec())
                          .addLast(new BodyLimit(metrics))
                          .addLast(new OpenAiHandler(s));
                    }
                  })
              .bind(new InetSocketAddress(host, port))
              .syncUninterruptibly()
              .channel();
    } catch (RuntimeException e) {
      s.shutdownLoops();
      throw new IOException(
          "cannot bind the HTTP port " + host + ":" + port + ": " + e.getMessage(), e);
    }
    log.info("OpenAI-compatible HTTP API on {}:{}", host, s.port());
    return s;
  }

  /** The bound port. */
  public int port() {
    Channel s = server;
    if (s == null) {
      throw new IllegalStateException("not started");
    }
    return ((InetSocketAddress) s.localAddress()).getPort();
  }

  /** Chat completions are answered from now on. */
  public void markReady() {
    ready = true;
  }

  boolean isReady() {
    return ready && !draining;
  }

  boolean isDraining() {
    return draining;
  }

  /** The cap of media inline in one chat request. */
  long maxInlineMediaBytes() {
    return maxInlineMediaBytes;
  }

  Engine engine() {
    return engine;
  }

  Metrics metrics() {
    return metrics;
  }

  ApiKeys keys() {
    return keys;
  }

  long startedEpochSeconds() {
    return startedEpochSeconds;
  }

  void started() {
    inFlight.incrementAndGet();
  }

  void finished() {
    inFlight.decrementAndGet();
  }

  /** Answers being generated now. */
  public int inFlight() {
    return inFlight.get();
  }

  /**
   * Refuses new requests, waits up to {@code timeout} for running answers, then closes every
   * connection (answers still running are cancelled by their connection closing).
   *
   * @return whether every answer finished in time
   */
  public boolean drain(Duration timeout) {
    draining = true;
    long deadline = System.nanoTime() + timeout.toNanos();
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    boolean clean = inFlight.get() == 0;
    close();
    return clean;
  }

  @Override
  public synchronized void close() {
    draining = true;
    if (server != null) {
      server.close().syncUninterruptibly();
    }
    channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    shutdownLoops();
  }

  private void shutdownLoops() {
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  /** Aggregates a request up to {@link #MAX_BODY_BYTES}; a larger one gets an OpenAI-shaped 413. */
  private static final class BodyLimit extends HttpObjectAggregator {
    /** How long a connection that asked to close may go on sending an oversized body. */
    private static final Duration LINGER = Duration.ofSeconds(5);

    private final Metrics metrics;

    BodyLimit(Metrics metrics) {
      super(MAX_BODY_BYTES);
      this.metrics = metrics;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
      ApiException e =
          ApiException.builder(
                  Reason.MEDIA_TOO_LARGE,
                  "the request body is larger than "
                      + MAX_BODY_BYTES
                      + " bytes; upload large media through MediaService and refer to it as "
                      + ChatRequests.MEDIA_REF_PREFIX
                      + "<media id>")
              .build();
      HttpResponseStatus status = HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
      byte[] body = OpenAiErrors.body(e, status).toString().getBytes(StandardCharsets.UTF_8);
      FullHttpResponse r =
          new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
      r.headers()
          .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
          .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
      metrics.httpRequests.labelValues("other", "413").inc();
      // The client is still sending the body. Closing at once would reset the connection with its
      // bytes unread, and a reset can destroy our response before the client reads it. So the rest
      // of the body is read and dropped (the aggregator does that after this call): a keep-alive
      // connection then serves the next request; any other is closed for writing now and closed
      // once the client has finished, or after LINGER.
      if (HttpUtil.isKeepAlive(oversized) && !(oversized instanceof FullHttpMessage)) {
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        return;
      }
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(r)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (!f.isSuccess() || !(f.channel() instanceof DuplexChannel d)) {
                      f.channel().close();
                      return;
                    }
                    d.shutdownOutput();
                    f.channel()
                        .eventLoop()
                        .schedule(
                            () -> f.channel().close(), LINGER.toMillis(), TimeUnit.MILLISECONDS);
                  });
    }
  }
}

package dev.llavast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.llavast.server.api.ProtoAnswers;
import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import dev.llavast.server.generation.AnswerDelta;
import dev.llavast.server.generation.AnswerListener;
import dev.llavast.server.generation.Engine;
import dev.llavast.server.generation.Failures;
import dev.llavast.server.generation.FinalAnswer;
import dev.llavast.server.tenancy.Tenant;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible routes: {@code GET /v1/models}, {@code POST /v1/chat/completions} (one JSON
 * answer, or server-sent events ending with {@code data: [DONE]}), {@code GET /health}. Requests go
 * to the same {@link Engine} as gRPC's; errors come from the same reasons.
 *
 * <p><b>Threading.</b> {@link #channelRead0} runs on the connection's event loop; the answer's
 * callbacks come from a worker thread and only write to the channel (Netty queues writes to the
 * event loop). A connection that closes mid-answer cancels the answer.
 */
final class OpenAiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger log = LoggerFactory.getLogger(OpenAiHandler.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonFormat.Printer PROTO_JSON =
      JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();
  private static final SecureRandom RANDOM = new SecureRandom();
  static final String CHAT = "/v1/chat/completions";
  static final String MODELS = "/v1/models";
  static final String HEALTH = "/health";

  private final HttpApiServer door;

  OpenAiHandler(HttpApiServer door) {
    this.door = door;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
    String path = req.uri().split("\\?", 2)[0];
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    try {
      Tenant tenant =
          path.equals(HEALTH)
              ? Tenant.OPEN
              : door.keys()
                  .authenticate(
                      Optional.ofNullable(req.headers().get(HttpHeaderNames.AUTHORIZATION)));
      switch (path) {
        case CHAT -> {
          requireMethod(req, HttpMethod.POST);
          chat(ctx, req, keepAlive, tenant);
        }
        case MODELS -> {
          requireMethod(req, HttpMethod.GET);
          send(ctx, MODELS, HttpResponseStatus.OK, models(), keepAlive);
        }
        case HEALTH -> {
          requireMethod(req, HttpMethod.GET);
          boolean ready = door.isReady();
          ObjectNode body = JSON.createObjectNode().put("status", ready ? "ready" : "not_ready");
          send(
              ctx,
              HEALTH,
              ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
              body,
              keepAlive);
        }
        default ->
            throw ApiException.builder(
                    Reason.INVALID_REQUEST,
                    "no route "
                        + path
                        + "; this server answers "
                        + "GET "
                        + MODELS
                        + ", POST "
                        + CHAT
                        + " and GET "
                        + HEALTH)
                .kind(Reason.Kind.NOT_FOUND)
                .build();
      }
    } catch (ApiException e) {
      sendError(ctx, route(path), e, keepAlive);
    } catch (RuntimeException e) {
      sendError(ctx, route(path), Failures.toApi(e), keepAlive);
    }
  }

  private static void requireMethod(FullHttpRequest req, HttpMethod expected) {
    if (!req.method().equals(expected)) {
      throw ApiException.builder(
              Reason.INVALID_REQUEST, req.method() + " is not allowed here; use " + expected)
          .kind(Reason.Kind.UNIMPLEMENTED)
          .build();
    }
  }

  private static String route(String path) {
    return switch (path) {
      case CHAT, MODELS, HEALTH -> path;
      default -> "other";
    };
  }

  private ObjectNode models() {
    Engine engine = door.engine();
    ObjectNode root = JSON.createObjectNode().put("object", "list");
    root.putArray("data")
        .addObject()
        .put("id", engine.modelName())
        .put("object", "model")
        .put("created", door.startedEpochSeconds())
        .put("owned_by", "llavast")
        .put("max_model_len", engine.modelConfig().maxPositionEmbeddings())
        .put("random_weights_demo", engine.demo());
    return root;
  }

  // ------------------------------------------------------------------------------ chat

  private void chat(
      ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive, Tenant tenant) {
    if (!door.isReady()) {
      throw ApiException.of(
          Reason.NOT_READY,
          door.isDraining()
              ? "the server is draining; retry on another replica"
              : "the model is still loading; retry shortly");
    }
    JsonNode body;
    try {
      body = JSON.readTree(new ByteBufInputStream(req.content()));
    } catch (IOException e) {
      throw ApiException.invalid("body", "is not valid JSON");
    }
    Engine engine = door.engine();
    String id = "chatcmpl-" + HexFormat.of().formatHex(randomBytes());
    ChatRequests.Chat chat =
        ChatRequests.parse(
            body, engine.modelName(), engine, id, tenant, door.maxInlineMediaBytes());
    Answer answer = new Answer(ctx, id, chat, keepAlive);
    door.started();
    ChannelFutureListener onClose = f -> answer.clientGone();
    answer.onClose = onClose;
    ctx.channel().closeFuture().addListener(onClose);
    answer.handle = engine.start(chat.job(), answer);
    if (!ctx.channel().isActive()) {
      answer.clientGone(); // closed before the handle existed
    }
  }

  private static byte[] randomBytes() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return b;
  }

  /** One answer on its way to the client, as one JSON response or as events. */
  private final class Answer implements AnswerListener {
    private final ChannelHandlerContext ctx;
    private final String id;
    private final ChatRequests.Chat chat;
    private final boolean keepAlive;
    private final long created = System.currentTimeMillis() / 1000;
    private final CoordinateText text;
    private final AtomicBoolean ended = new AtomicBoolean();
    private boolean headersSent; // worker thread (callbacks come one at a time)
    volatile Engine.@Nullable Generation handle;
    volatile @Nullable ChannelFutureListener onClose;

    Answer(ChannelHandlerContext ctx, String id, ChatRequests.Chat chat, boolean keepAlive) {
      this.ctx = ctx;
      this.id = id;
      this.chat = chat;
      this.keepAlive = keepAlive;
      this.text = new CoordinateText(chat.seconds(), door.engine().model().codec().bins());
    }

    @Override
    public void onDelta(AnswerDelta d) {
      if (!chat.stream() || ended.get()) {
        return;
      }
      ObjectNode delta = JSON.createObjectNode();
      if (!headersSent) {
        startEvents();
        delta.put("role", "assistant");
      }
      String content = text.render(d.text(), d.coordinates());
      if (content.isEmpty() && d.coordinates().isEmpty() && delta.isEmpty()) {
        return;
      }
      delta.put("content", content);
      ObjectNode chunk = chunk();
      ObjectNode choice = ((ArrayNode) chunk.get("choices")).addObject();
      choice.put("index", 0);
      choice.set("delta", delta);
      choice.putNull("finish_reason");
      if (!d.coordinates().isEmpty()) {
        ObjectNode ext = choice.putObject("llavast");
        ArrayNode coords = ext.putArray("coordinates");
        ProtoAnswers.coordinates(d.coordinates(), d.clipStartSeconds())
            .forEach(c -> coords.add(proto(c)));
      }
      event(chunk);
    }

    @Override
    public void onFinish(FinalAnswer a) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      door.metrics().httpRequests.labelValues(CHAT, "200").inc();
      // The final message as gRPC sends it (its text is the model's literal output, coordinate
      // tokens included).
      ObjectNode llavast = (ObjectNode) proto(ProtoAnswers.fin(a, false, false));
      if (chat.stream()) {
        if (!headersSent) {
          startEvents();
        }
        ObjectNode last = chunk();
        ObjectNode choice = ((ArrayNode) last.get("choices")).addObject();
        choice.put("index", 0);
        choice.putObject("delta");
        choice.put("finish_reason", finishReason(a));
        choice.set("llavast", llavast);
        event(last);
        if (chat.includeUsage()) {
          ObjectNode usage = chunk();
          usage.set("usage", usage(a));
          event(usage);
        }
        ctx.write(
            new DefaultHttpContent(
                Unpooled.copiedBuffer("data: [DONE]\n\n", StandardCharsets.UTF_8)));
        finishEvents();
      } else {
        ObjectNode root =
            JSON.createObjectNode()
                .put("id", id)
                .put("object", "chat.completion")
                .put("created", created)
                .put("model", door.engine().modelName());
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        choice
            .putObject("message")
            .put("role", "assistant")
            .put(
                "content",
                new CoordinateText(chat.seconds(), door.engine().model().codec().bins())
                    .render(a.text(), a.coordinates()));
        choice.put("finish_reason", finishReason(a));
        choice.set("llavast", llavast);
        root.set("usage", usage(a));
        write(full(HttpResponseStatus.OK, root));
      }
      done();
    }

    @Override
    public void onError(ApiException error) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      HttpResponseStatus status = OpenAiErrors.status(error);
      door.metrics().httpRequests.labelValues(CHAT, Integer.toString(status.code())).inc();
      if (error.reason() == Reason.CANCELLED && !ctx.channel().isActive()) {
        done(); // the client left: nobody to tell
        return;
      }
      if (headersSent) {
        event(OpenAiErrors.body(error, status)); // the status line is gone: the error is an event
        finishEvents();
      } else {
        FullHttpResponse r = full(status, OpenAiErrors.body(error, status));
        error
            .retryAfter()
            .ifPresent(
                d ->
                    r.headers()
                        .set(
                            HttpHeaderNames.RETRY_AFTER,
                            Long.toString(Math.max(1, (d.toMillis() + 999) / 1000))));
        write(r);
      }
      done();
    }

    /** The connection closed: the answer has no reader left. Event loop. */
    void clientGone() {
      Engine.Generation h = handle;
      if (h != null && !ended.get()) {
        h.cancel();
      }
    }

    private void done() {
      ChannelFutureListener l = onClose;
      if (l != null) {
        ctx.channel().closeFuture().removeListener(l);
      }
      door.finished();
    }

    private ObjectNode chunk() {
      ObjectNode c =
          JSON.createObjectNode()
              .put("id", id)
              .put("object", "chat.completion.chunk")
              .put("created", created)
              .put("model", door.engine().modelName());
      c.putArray("choices");
      return c;
    }

    private void startEvents() {
      headersSent = true;
      HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      r.headers()
          .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
          .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
      HttpUtil.setTransferEncodingChunked(r, true);
      HttpUtil.setKeepAlive(r, keepAlive);
      ctx.write(r);
    }

    private void event(JsonNode data) {
      String line = "data: " + data + "\n\n";
      ctx.writeAndFlush(
          new DefaultHttpContent(Unpooled.copiedBuffer(line, StandardCharsets.UTF_8)));
    }

    private void finishEvents() {
      var f = ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
      if (!keepAlive) {
        f.addListener(ChannelFutureListener.CLOSE);
      }
    }

    private void write(FullHttpResponse r) {
      HttpUtil.setKeepAlive(r, keepAlive);
      var f = ctx.writeAndFlush(r);
      if (!keepAlive) {
        f.addListener(ChannelFutureListener.CLOSE);
      }
    }
  }

  private static String finishReason(FinalAnswer a) {
    return switch (a.finish()) {
      case LENGTH, CONTEXT_LENGTH -> "length";
      default -> "stop";
    };
  }

  private static ObjectNode usage(FinalAnswer a) {
    ObjectNode u = JSON.createObjectNode();
    u.put("prompt_tokens", a.usage().promptTokens());
    u.put("completion_tokens", a.usage().generatedTokens());
    u.put("total_tokens", a.usage().promptTokens() + a.usage().generatedTokens());
    u.putObject("prompt_tokens_details").put("cached_tokens", a.usage().cachedTokens());
    return u;
  }

  private static JsonNode proto(MessageOrBuilder m) {
    try {
      return JSON.readTree(PROTO_JSON.print(m));
    } catch (InvalidProtocolBufferException
        | com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("an API message did not print as JSON", e);
    }
  }

  // ------------------------------------------------------------------------------ plain responses

  private static FullHttpResponse full(HttpResponseStatus status, JsonNode body) {
    byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
    FullHttpResponse r =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
    return r;
  }

  private void send(
      ChannelHandlerContext ctx,
      String route,
      HttpResponseStatus status,
      JsonNode body,
      boolean keepAlive) {
    door.metrics().httpRequests.labelValues(route, Integer.toString(status.code())).inc();
    FullHttpResponse r = full(status, body);
    HttpUtil.setKeepAlive(r, keepAlive);
    var f = ctx.writeAndFlush(r);
    if (!keepAlive) {
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  private void sendError(
      ChannelHandlerContext ctx, String route, ApiException e, boolean keepAlive) {
    HttpResponseStatus status =
        e.kind() == Reason.Kind.UNIMPLEMENTED && e.reason() == Reason.INVALID_REQUEST
            ? HttpResponseStatus.METHOD_NOT_ALLOWED
            : OpenAiErrors.status(e);
    send(ctx, route, status, OpenAiErrors.body(e, status), keepAlive);
    if (status.code() >= 500) {
      log.warn("HTTP {} answered {}: {}", route, status.code(), e.getMessage());
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("HTTP connection failed; closing it", cause);
    ctx.close();
  }
}

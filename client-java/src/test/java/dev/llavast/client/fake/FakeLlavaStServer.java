package dev.llavast.client.fake;

import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import dev.llavast.api.v1.AbortRequest;
import dev.llavast.api.v1.AbortResponse;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.AskRequest;
import dev.llavast.api.v1.BoxCoordinate;
import dev.llavast.api.v1.CloseSessionRequest;
import dev.llavast.api.v1.Coordinate;
import dev.llavast.api.v1.CreateSessionRequest;
import dev.llavast.api.v1.DeleteMediaRequest;
import dev.llavast.api.v1.DeleteMediaResponse;
import dev.llavast.api.v1.FeatureCacheStatus;
import dev.llavast.api.v1.FinishReason;
import dev.llavast.api.v1.GenerateDelta;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.GetModelInfoRequest;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.api.v1.GetSessionRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.ServerLimits;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionServiceGrpc;
import dev.llavast.api.v1.SessionState;
import dev.llavast.api.v1.Span;
import dev.llavast.api.v1.Timestamp;
import dev.llavast.api.v1.Timings;
import dev.llavast.api.v1.UploadMediaRequest;
import dev.llavast.api.v1.Usage;
import dev.llavast.api.v1.WorkerStatus;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test-only LLaVA-ST server that follows the API's documented behaviour without a model: uploads
 * are hashed into sha256 ids, generation streams a scripted answer token by token (one token per
 * delta) with decoded coordinates, sessions count turns, and failures can be injected
 * (RESOURCE_EXHAUSTED / OVERLOADED with RetryInfo, a stream failing after its first delta). Listens
 * on 127.0.0.1 (loopback Netty), so the CLI and non-Java clients can reach it.
 */
public final class FakeLlavaStServer implements AutoCloseable {
  /**
   * The scripted answer, one token per element; it has a span (tokens 4-5) and a box (tokens
   * 11-14).
   */
  public static final List<String> SCRIPT =
      List.of(
          "The",
          " event",
          " happens",
          " in",
          " {<TEMP-020>",
          "<TEMP-045>}",
          " and",
          " the",
          " person",
          " is",
          " at",
          " [<WIDTH-010>",
          "<HEIGHT-020>",
          "<WIDTH-050>",
          "<HEIGHT-080>]",
          ".");

  public static final int BINS = 100;
  public static final int VIDEO_TOKENS = 2520;
  public static final int IMAGE_TOKENS = 729;

  /** What the fake pretends a video container is (it decodes nothing). */
  public static final double FAKE_VIDEO_SECONDS = 10.0;

  public static final int FAKE_VIDEO_WIDTH = 640;
  public static final int FAKE_VIDEO_HEIGHT = 360;
  public static final int MAX_CHUNK_BYTES = 4 << 20;

  record Stored(MediaInfo info) {}

  /** One received call: the full method name and its x-media-id header (null if absent). */
  public record SeenCall(String method, String mediaIdHeader, long nanoTime) {}

  private final Server server;
  private final Map<String, Stored> media = new ConcurrentHashMap<>();
  private final Map<String, Boolean> featuresCached = new ConcurrentHashMap<>();
  private final Map<String, SessionInfo.Builder> sessions = new ConcurrentHashMap<>();
  private final Map<String, ServerCallStreamObserver<?>> running = new ConcurrentHashMap<>();
  public final List<SeenCall> calls = new CopyOnWriteArrayList<>();
  public final List<Integer> chunkSizes = new CopyOnWriteArrayList<>();
  public final AtomicInteger uploadsCompleted = new AtomicInteger();

  /** The last GenerateStream request received. */
  public volatile GenerateRequest lastGenerateStream;

  public final AtomicInteger sessionsCreated = new AtomicInteger();
  public final AtomicInteger sessionsClosed = new AtomicInteger();
  public final AtomicInteger cancelledStreams = new AtomicInteger();
  public final AtomicInteger tokensSentBeforeCancel = new AtomicInteger(-1);
  public volatile CountDownLatch cancelLatch = new CountDownLatch(1);
  private final AtomicInteger sessionSeq = new AtomicInteger();
  private final AtomicInteger requestSeq = new AtomicInteger();

  /** Failures to inject into the next generation calls (Generate, GenerateStream, Ask). */
  private final AtomicInteger overloadNext = new AtomicInteger();

  private volatile Duration overloadRetryAfter = Duration.ofMillis(100);
  private volatile Code overloadCode = Code.RESOURCE_EXHAUSTED;
  private volatile boolean failAfterFirstDelta;

  /** Sleep per generated token. */
  private volatile Duration tokenDelay = Duration.ZERO;

  private volatile long maxUploadBytes = 64L << 20;

  public FakeLlavaStServer(int port) throws IOException {
    ServerInterceptor capture =
        new ServerInterceptor() {
          @Override
          public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
              ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
            calls.add(
                new SeenCall(
                    call.getMethodDescriptor().getFullMethodName(),
                    headers.get(Metadata.Key.of("x-media-id", Metadata.ASCII_STRING_MARSHALLER)),
                    System.nanoTime()));
            return Contexts.interceptCall(io.grpc.Context.current(), call, headers, next);
          }
        };
    this.server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
            .addService(ServerInterceptors.intercept(new Media(), capture))
            .addService(ServerInterceptors.intercept(new Generation(), capture))
            .addService(ServerInterceptors.intercept(new Sessions(), capture))
            .addService(ServerInterceptors.intercept(new Admin(), capture))
            .build()
            .start();
  }

  public static FakeLlavaStServer start() throws IOException {
    return new FakeLlavaStServer(0);
  }

  public String target() {
    return "127.0.0.1:" + server.getPort();
  }

  public int port() {
    return server.getPort();
  }

  /**
   * The next {@code n} generation calls fail with {@code code} / OVERLOADED and this RetryInfo
   * delay.
   */
  public void overloadNext(int n, Code code, Duration retryAfter) {
    overloadCode = code;
    overloadRetryAfter = retryAfter;
    overloadNext.set(n);
  }

  public void failAfterFirstDelta(boolean on) {
    failAfterFirstDelta = on;
  }

  public void tokenDelay(Duration d) {
    tokenDelay = d;
  }

  public void maxUploadBytes(long n) {
    maxUploadBytes = n;
  }

  /** Calls received for a method name suffix, e.g. "GenerateStream". */
  public List<SeenCall> callsTo(String methodSuffix) {
    List<SeenCall> out = new ArrayList<>();
    for (SeenCall c : calls) {
      if (c.method().endsWith("/" + methodSuffix)) {
        out.add(c);
      }
    }
    return out;
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Runs the fake on 127.0.0.1:PORT (default 50051) until killed; for the other-language examples.
   */
  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 50051;
    FakeLlavaStServer s = new FakeLlavaStServer(port);
    if (args.length > 1) {
      s.tokenDelay(Duration.ofMillis(Long.parseLong(args[1])));
    }
    System.out.println("fake LLaVA-ST server listening on " + s.target());
    System.out.flush();
    s.server.awaitTermination();
  }

  // ------------------------------------------------------------------ media

  private final class Media extends MediaServiceGrpc.MediaServiceImplBase {
    @Override
    public StreamObserver<UploadMediaRequest> uploadMedia(StreamObserver<MediaInfo> out) {
      return new StreamObserver<>() {
        dev.llavast.api.v1.UploadHeader header;
        final MessageDigest md = sha256();
        final List<byte[]> frames = new ArrayList<>();
        byte[] first;
        long size;
        boolean failed;

        @Override
        public void onNext(UploadMediaRequest r) {
          if (failed) {
            return;
          }
          if (header == null) {
            if (!r.hasHeader()) {
              fail(
                  FakeErrors.build(
                      Code.INVALID_ARGUMENT,
                      "INVALID_REQUEST",
                      "first message must be a header",
                      List.<String[]>of(new String[] {"header", "missing"}),
                      null));
              return;
            }
            header = r.getHeader();
            return;
          }
          ByteString c = r.getChunk();
          if (c.size() > MAX_CHUNK_BYTES) {
            fail(
                FakeErrors.build(
                    Code.INVALID_ARGUMENT,
                    "INVALID_REQUEST",
                    "chunk of " + c.size() + " bytes",
                    List.<String[]>of(
                        new String[] {"chunk", "at most " + MAX_CHUNK_BYTES + " bytes"}),
                    null));
            return;
          }
          chunkSizes.add(c.size());
          size += c.size();
          if (size > maxUploadBytes) {
            fail(
                FakeErrors.error(
                    Code.RESOURCE_EXHAUSTED,
                    "MEDIA_TOO_LARGE",
                    "upload passed " + maxUploadBytes + " bytes"));
            return;
          }
          byte[] b = c.toByteArray();
          if (first == null) {
            first = b;
          }
          if (header.getKind() == MediaKind.MEDIA_KIND_FRAMES) {
            frames.add(b);
            md.update(ByteBuffer.allocate(8).putLong(b.length).array());
          }
          md.update(b);
        }

        private void fail(RuntimeException e) {
          failed = true;
          out.onError(e);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          if (failed) {
            return;
          }
          if (header == null || size == 0) {
            out.onError(FakeErrors.error(Code.INVALID_ARGUMENT, "MEDIA_INVALID", "empty upload"));
            return;
          }
          MediaInfo.Builder info =
              MediaInfo.newBuilder()
                  .setKind(header.getKind())
                  .setLabel(header.getLabel())
                  .setSizeBytes(size);
          switch (header.getKind()) {
            case MEDIA_KIND_FRAMES -> {
              md.update(ByteBuffer.allocate(8).putDouble(header.getFramesFps()).array());
              int[] wh = imageSize(frames.get(0));
              info.setFrameCount(frames.size())
                  .setFps(header.getFramesFps())
                  .setDurationSeconds(frames.size() / header.getFramesFps())
                  .setWidthPx(wh[0])
                  .setHeightPx(wh[1]);
            }
            case MEDIA_KIND_IMAGE -> {
              int[] wh = imageSize(first);
              info.setFrameCount(1).setWidthPx(wh[0]).setHeightPx(wh[1]);
            }
            default ->
                info.setFrameCount((long) (FAKE_VIDEO_SECONDS * 25))
                    .setFps(25)
                    .setDurationSeconds(FAKE_VIDEO_SECONDS)
                    .setWidthPx(FAKE_VIDEO_WIDTH)
                    .setHeightPx(FAKE_VIDEO_HEIGHT);
          }
          String id = "sha256:" + HexFormat.of().formatHex(md.digest());
          info.setMediaId(id);
          Stored prev = media.putIfAbsent(id, new Stored(info.build()));
          info.setAlreadyPresent(prev != null);
          uploadsCompleted.incrementAndGet();
          out.onNext(info.build());
          out.onCompleted();
        }
      };
    }

    @Override
    public void getMedia(GetMediaRequest r, StreamObserver<MediaInfo> out) {
      Stored s = media.get(r.getMediaId());
      if (s == null) {
        out.onError(
            FakeErrors.error(Code.NOT_FOUND, "MEDIA_NOT_FOUND", "no media " + r.getMediaId()));
        return;
      }
      out.onNext(
          s.info().toBuilder()
              .setFeaturesCached(featuresCached.containsKey(r.getMediaId()))
              .build());
      out.onCompleted();
    }

    @Override
    public void deleteMedia(DeleteMediaRequest r, StreamObserver<DeleteMediaResponse> out) {
      Stored s = media.remove(r.getMediaId());
      if (s == null) {
        out.onError(
            FakeErrors.error(Code.NOT_FOUND, "MEDIA_NOT_FOUND", "no media " + r.getMediaId()));
        return;
      }
      featuresCached.remove(r.getMediaId());
      out.onNext(
          DeleteMediaResponse.newBuilder().setReleasedBytes(s.info().getSizeBytes()).build());
      out.onCompleted();
    }
  }

  static int[] imageSize(byte[] encoded) {
    try {
      java.awt.image.BufferedImage img =
          javax.imageio.ImageIO.read(new ByteArrayInputStream(encoded));
      return img == null ? new int[] {0, 0} : new int[] {img.getWidth(), img.getHeight()};
    } catch (IOException e) {
      return new int[] {0, 0};
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ generation

  private final class Generation extends GenerationServiceGrpc.GenerationServiceImplBase {
    @Override
    public void generate(GenerateRequest r, StreamObserver<GenerateFinal> out) {
      run(
          r.getMedia().getMediaId(),
          r.getPrompt(),
          r.getSampling(),
          r.getOutput(),
          r.getRequestId(),
          new StreamObserver<>() {
            @Override
            public void onNext(GenerateStreamResponse v) {
              if (v.hasFinal()) {
                out.onNext(v.getFinal());
              }
            }

            @Override
            public void onError(Throwable t) {
              out.onError(t);
            }

            @Override
            public void onCompleted() {
              out.onCompleted();
            }
          },
          null);
    }

    @Override
    public void generateStream(GenerateRequest r, StreamObserver<GenerateStreamResponse> out) {
      lastGenerateStream = r;
      run(
          r.getMedia().getMediaId(),
          r.getPrompt(),
          r.getSampling(),
          r.getOutput(),
          r.getRequestId(),
          out,
          (ServerCallStreamObserver<GenerateStreamResponse>) out);
    }

    @Override
    public void abort(AbortRequest r, StreamObserver<AbortResponse> out) {
      ServerCallStreamObserver<?> o = running.get(r.getRequestId());
      out.onNext(AbortResponse.newBuilder().setFound(o != null).build());
      out.onCompleted();
    }
  }

  /**
   * Validates, then streams the scripted answer. Runs on the gRPC handler thread (sleeps between
   * tokens).
   */
  private void run(
      String mediaId,
      Prompt prompt,
      SamplingParams sampling,
      OutputOptions output,
      String requestId,
      StreamObserver<GenerateStreamResponse> out,
      ServerCallStreamObserver<GenerateStreamResponse> call) {
    long t0 = System.nanoTime();
    List<String[]> violations = new ArrayList<>();
    if (sampling.getMaxNewTokens() < 0 || sampling.getMaxNewTokens() > 4096) {
      violations.add(
          new String[] {
            "sampling.max_new_tokens", "must be in [0, 4096], got " + sampling.getMaxNewTokens()
          });
    }
    if (sampling.getTopP() < 0 || sampling.getTopP() > 1) {
      violations.add(
          new String[] {"sampling.top_p", "must be in (0, 1], got " + sampling.getTopP()});
    }
    if (prompt.getText().isEmpty() && prompt.getPartsCount() == 0) {
      violations.add(new String[] {"prompt", "must have text or parts"});
    }
    if (!violations.isEmpty()) {
      out.onError(
          FakeErrors.build(
              Code.INVALID_ARGUMENT,
              "INVALID_REQUEST",
              violations.size() + " invalid fields",
              violations,
              null));
      return;
    }
    Stored m = media.get(mediaId);
    if (m == null) {
      out.onError(FakeErrors.error(Code.NOT_FOUND, "MEDIA_NOT_FOUND", "no media " + mediaId));
      return;
    }
    if (overloadNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      out.onError(
          FakeErrors.build(
              overloadCode,
              overloadCode == Code.UNAVAILABLE ? "NOT_READY" : "OVERLOADED",
              "queue full",
              List.of(),
              overloadRetryAfter));
      return;
    }
    String id = requestId.isEmpty() ? "req-" + requestSeq.incrementAndGet() : requestId;
    boolean hit = featuresCached.putIfAbsent(mediaId, Boolean.TRUE) != null;
    boolean cancelledFlag[] = {false};
    if (call != null) {
      running.put(id, call);
      call.setOnCancelHandler(
          () -> {
            cancelledFlag[0] = true;
            cancelledStreams.incrementAndGet();
            cancelLatch.countDown();
          });
    }
    MediaInfo info = m.info();
    int visual = info.getKind() == MediaKind.MEDIA_KIND_IMAGE ? IMAGE_TOKENS : VIDEO_TOKENS;
    String text = prompt.getText();
    int promptTokens = visual + text.split("\\s+").length;
    int max = sampling.getMaxNewTokens() == 0 ? 256 : sampling.getMaxNewTokens();
    int n = Math.min(max, SCRIPT.size());
    StringBuilder all = new StringBuilder();
    List<Coordinate> coords = new ArrayList<>();
    List<Integer> ids = new ArrayList<>();
    long firstToken = 0;
    try {
      for (int i = 0; i < n; i++) {
        if (!tokenDelay.isZero()) {
          Thread.sleep(tokenDelay.toMillis());
        }
        if (call != null && call.isCancelled()) {
          tokensSentBeforeCancel.set(i);
          return;
        }
        int offset = all.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        String tok = SCRIPT.get(i);
        all.append(tok);
        GenerateDelta.Builder d = GenerateDelta.newBuilder().setText(tok);
        if (output.getReturnTokenIds()) {
          d.addTokenIds(1000 + i);
          ids.add(1000 + i);
        }
        Coordinate c = coordinateCompletedAt(i, offset, info);
        if (c != null) {
          d.addCoordinates(c);
          coords.add(c);
        }
        if (firstToken == 0) {
          firstToken = System.nanoTime();
        }
        out.onNext(GenerateStreamResponse.newBuilder().setDelta(d).build());
        if (failAfterFirstDelta) {
          out.onError(FakeErrors.error(Code.UNAVAILABLE, "NOT_READY", "worker died mid-stream"));
          return;
        }
      }
      double total = (System.nanoTime() - t0) / 1e9;
      GenerateFinal fin =
          GenerateFinal.newBuilder()
              .setRequestId(id)
              .setFinishReason(
                  n < SCRIPT.size()
                      ? FinishReason.FINISH_REASON_LENGTH
                      : FinishReason.FINISH_REASON_STOP)
              .setText(all.toString())
              .addAllCoordinates(coords)
              .addAllTokenIds(ids)
              .setMediaId(mediaId)
              .setUsage(
                  Usage.newBuilder()
                      .setPromptTokens(promptTokens)
                      .setVisualTokens(visual)
                      .setCachedTokens(hit ? visual : 0)
                      .setGeneratedTokens(n)
                      .setFeatureCacheHit(hit))
              .setTimings(
                  Timings.newBuilder()
                      .setTotalSeconds(total)
                      .setTimeToFirstTokenSeconds(firstToken == 0 ? 0 : (firstToken - t0) / 1e9))
              .build();
      out.onNext(GenerateStreamResponse.newBuilder().setFinal(fin).build());
      out.onCompleted();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      out.onError(io.grpc.Status.CANCELLED.asRuntimeException());
    } catch (IllegalStateException | io.grpc.StatusRuntimeException e) {
      // the call was cancelled between the check and the send
      if (!cancelledFlag[0]) {
        throw e;
      }
    } finally {
      running.remove(id);
    }
  }

  private static Timestamp time(int bin, double duration) {
    double norm = bin / (double) (BINS - 1);
    return Timestamp.newBuilder()
        .setBin(bin)
        .setNormalized(norm)
        .setSeconds(norm * duration)
        .setMediaSeconds(norm * duration)
        .build();
  }

  private static BoxCoordinate bc(int bin, int extent) {
    double norm = bin / (double) (BINS - 1);
    return BoxCoordinate.newBuilder().setBin(bin).setNormalized(norm).setPx(norm * extent).build();
  }

  /** The coordinate group that token {@code i} of the script completes, or null. */
  private static Coordinate coordinateCompletedAt(int i, int byteOffsetOfToken, MediaInfo info) {
    if (i == 5) {
      int start =
          SCRIPT.get(0).length()
              + SCRIPT.get(1).length()
              + SCRIPT.get(2).length()
              + SCRIPT.get(3).length()
              + 1;
      return Coordinate.newBuilder()
          .setTextOffsetBytes(start)
          .setSpan(
              Span.newBuilder()
                  .setStart(time(20, info.getDurationSeconds()))
                  .setEnd(time(45, info.getDurationSeconds())))
          .build();
    }
    if (i == 14) {
      int start = 0;
      for (int k = 0; k < 11; k++) {
        start += SCRIPT.get(k).length();
      }
      start += 1;
      return Coordinate.newBuilder()
          .setTextOffsetBytes(start)
          .setBox(
              dev.llavast.api.v1.Box.newBuilder()
                  .setX1(bc(10, info.getWidthPx()))
                  .setY1(bc(20, info.getHeightPx()))
                  .setX2(bc(50, info.getWidthPx()))
                  .setY2(bc(80, info.getHeightPx())))
          .build();
    }
    return null;
  }

  // ------------------------------------------------------------------ sessions

  private final class Sessions extends SessionServiceGrpc.SessionServiceImplBase {
    @Override
    public void createSession(CreateSessionRequest r, StreamObserver<SessionInfo> out) {
      String mediaId = r.getMedia().getMediaId();
      if (!media.containsKey(mediaId)) {
        out.onError(FakeErrors.error(Code.NOT_FOUND, "MEDIA_NOT_FOUND", "no media " + mediaId));
        return;
      }
      String id = "sess-" + sessionSeq.incrementAndGet();
      SessionInfo.Builder s =
          SessionInfo.newBuilder()
              .setSessionId(id)
              .setMediaId(mediaId)
              .setState(SessionState.SESSION_STATE_OPEN)
              .setExpiresInSeconds(600);
      sessions.put(id, s);
      sessionsCreated.incrementAndGet();
      out.onNext(s.build());
      out.onCompleted();
    }

    @Override
    public void ask(AskRequest r, StreamObserver<GenerateStreamResponse> out) {
      SessionInfo.Builder s = sessions.get(r.getSessionId());
      if (s == null) {
        out.onError(
            FakeErrors.error(
                Code.NOT_FOUND, "SESSION_NOT_FOUND", "no session " + r.getSessionId()));
        return;
      }
      if (s.getState() != SessionState.SESSION_STATE_OPEN) {
        out.onError(
            FakeErrors.error(
                Code.FAILED_PRECONDITION,
                "SESSION_CLOSED",
                "session " + r.getSessionId() + " is closed"));
        return;
      }
      boolean[] ok = {false};
      run(
          s.getMediaId(),
          r.getPrompt(),
          r.getSampling(),
          r.getOutput(),
          r.getRequestId(),
          new StreamObserver<>() {
            @Override
            public void onNext(GenerateStreamResponse v) {
              if (v.hasFinal()) {
                ok[0] = true;
              }
              out.onNext(v);
            }

            @Override
            public void onError(Throwable t) {
              out.onError(t);
            }

            @Override
            public void onCompleted() {
              synchronized (s) {
                if (ok[0]) {
                  s.setTurns(s.getTurns() + 1);
                }
              }
              out.onCompleted();
            }
          },
          (ServerCallStreamObserver<GenerateStreamResponse>) out);
    }

    @Override
    public void getSession(GetSessionRequest r, StreamObserver<SessionInfo> out) {
      SessionInfo.Builder s = sessions.get(r.getSessionId());
      if (s == null) {
        out.onError(
            FakeErrors.error(
                Code.NOT_FOUND, "SESSION_NOT_FOUND", "no session " + r.getSessionId()));
        return;
      }
      out.onNext(s.build());
      out.onCompleted();
    }

    @Override
    public void closeSession(CloseSessionRequest r, StreamObserver<SessionInfo> out) {
      SessionInfo.Builder s = sessions.get(r.getSessionId());
      if (s == null) {
        out.onError(
            FakeErrors.error(
                Code.NOT_FOUND, "SESSION_NOT_FOUND", "no session " + r.getSessionId()));
        return;
      }
      if (s.getState() == SessionState.SESSION_STATE_OPEN) {
        sessionsClosed.incrementAndGet();
      }
      s.setState(SessionState.SESSION_STATE_CLOSED);
      out.onNext(s.build());
      out.onCompleted();
    }
  }

  // ------------------------------------------------------------------ admin

  private final class Admin extends AdminServiceGrpc.AdminServiceImplBase {
    @Override
    public void getModelInfo(GetModelInfoRequest r, StreamObserver<ModelInfo> out) {
      out.onNext(
          ModelInfo.newBuilder()
              .setModelName("llava-st-demo-tiny")
              .setRandomWeightsDemo(true)
              .setHiddenSize(64)
              .setNumLayers(2)
              .setNumAttentionHeads(4)
              .setNumKeyValueHeads(2)
              .setVocabSize(1000)
              .setCoordinateBins(BINS)
              .setFramesPerVideo(100)
              .setVideoPromptTokens(VIDEO_TOKENS)
              .setImagePromptTokens(IMAGE_TOKENS)
              .setContextLimitTokens(4096)
              .setDtype("float32")
              .addDevices("cpu:0")
              .setLimits(
                  ServerLimits.newBuilder()
                      .setMaxUploadBytes(maxUploadBytes)
                      .setMaxChunkBytes(MAX_CHUNK_BYTES)
                      .setMaxNewTokens(4096)
                      .setMaxQueuedRequests(64)
                      .setMaxSessions(16))
              .build());
      out.onCompleted();
    }

    @Override
    public void getServerStatus(GetServerStatusRequest r, StreamObserver<ServerStatus> out) {
      out.onNext(
          ServerStatus.newBuilder()
              .setReady(true)
              .setQueueDepth(0)
              .setActiveSessions(
                  (int)
                      sessions.values().stream()
                          .filter(s -> s.getState() == SessionState.SESSION_STATE_OPEN)
                          .count())
              .addWorkers(
                  WorkerStatus.newBuilder()
                      .setDevice("cpu:0")
                      .setHealthy(true)
                      .setKvBlocksTotal(128)
                      .setKvBlocksUsed(32)
                      .setKvUsageRatio(0.25))
              .setFeatureCache(FeatureCacheStatus.newBuilder().setEntries(featuresCached.size()))
              .setUptimeSeconds(1.5)
              .build());
      out.onCompleted();
    }
  }
}

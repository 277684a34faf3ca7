package dev.llavast.client;

import com.google.protobuf.ByteString;
import dev.llavast.api.v1.AbortRequest;
import dev.llavast.api.v1.AdminServiceGrpc;
import dev.llavast.api.v1.CreateSessionRequest;
import dev.llavast.api.v1.DeleteMediaRequest;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerateStreamResponse;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.GetMediaRequest;
import dev.llavast.api.v1.GetModelInfoRequest;
import dev.llavast.api.v1.GetServerStatusRequest;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.ModelInfo;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.ServerStatus;
import dev.llavast.api.v1.SessionInfo;
import dev.llavast.api.v1.SessionServiceGrpc;
import dev.llavast.api.v1.UploadHeader;
import dev.llavast.api.v1.UploadMediaRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The Java client of LLaVA-ST Serve: generation (blocking, async, streaming), media upload,
 * sessions and admin calls over one gRPC channel, with deadlines, retries ({@link RetryPolicy}) and
 * the {@value #MEDIA_ID_HEADER} routing header on every call bound to a media item.
 *
 * <p>The client owns its channel when it built it from a target (closing the client shuts it down)
 * and never closes a channel it was given. Thread-safe: one client serves any number of threads.
 */
public final class LlavaStClient implements AutoCloseable {
  /**
   * Request header with the media id, so an L7 proxy can route every call about one video to the
   * same replica (its feature and prefix caches). Same value as the server's {@code
   * ServerConfig.MEDIA_ID_HEADER}, repeated here because the client does not depend on the server.
   */
  public static final String MEDIA_ID_HEADER = "x-media-id";

  static final Metadata.Key<String> MEDIA_ID_KEY =
      Metadata.Key.of(MEDIA_ID_HEADER, Metadata.ASCII_STRING_MARSHALLER);

  private final Channel channel;
  private final @Nullable ManagedChannel ownedChannel;
  private final Duration deadline;
  private final Duration uploadDeadline;
  private final RetryPolicy retry;
  private final ScheduledExecutorService scheduler;
  private final DoubleSupplier random;

  /** Calls that have not ended; closing the client cancels them. */
  private final java.util.Set<RetryingCall<?, ?>> live =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  private LlavaStClient(Builder b) {
    if (b.channel != null) {
      this.channel = b.channel;
      this.ownedChannel = null;
    } else {
      Objects.requireNonNull(b.target, "target (host:port) or channel must be set");
      ManagedChannel mc =
          Grpc.newChannelBuilder(
                  b.target,
                  b.tls ? TlsChannelCredentials.create() : InsecureChannelCredentials.create())
              .maxInboundMessageSize(64 << 20)
              .build();
      this.channel = mc;
      this.ownedChannel = mc;
    }
    this.deadline = b.deadline;
    this.uploadDeadline = b.uploadDeadline;
    this.retry = b.retry;
    this.random = b.random;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "llavast-client-retry");
              t.setDaemon(true);
              return t;
            });
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builder; not thread-safe. */
  public static final class Builder {
    private @Nullable String target;
    private boolean tls;
    private @Nullable Channel channel;
    private Duration deadline = Duration.ofSeconds(120);
    private Duration uploadDeadline = Duration.ofMinutes(10);
    private RetryPolicy retry = RetryPolicy.defaults();
    private DoubleSupplier random = RetryingCall::uniform;

    /** {@code host:port} or any gRPC target URI; the client then owns the channel. */
    public Builder target(String target) {
      this.target = target;
      return this;
    }

    /** TLS with the JVM's trust store (default off: plaintext). */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /** Uses this channel instead of a target; the caller keeps ownership and closes it. */
    public Builder channel(Channel channel) {
      this.channel = channel;
      return this;
    }

    /** Deadline of each attempt of a unary or streaming call (default 120 s). */
    public Builder deadline(Duration d) {
      this.deadline = requirePositive(d, "deadline");
      return this;
    }

    /** Deadline of each upload attempt (default 10 min). */
    public Builder uploadDeadline(Duration d) {
      this.uploadDeadline = requirePositive(d, "uploadDeadline");
      return this;
    }

    public Builder retryPolicy(RetryPolicy p) {
      this.retry = Objects.requireNonNull(p, "retryPolicy");
      return this;
    }

    /** The uniform [0, 1) source for backoff jitter (tests pin it). */
    public Builder random(DoubleSupplier r) {
      this.random = Objects.requireNonNull(r, "random");
      return this;
    }

    public LlavaStClient build() {
      return new LlavaStClient(this);
    }

    private static Duration requirePositive(Duration d, String name) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(name + " must be > 0, got " + d);
      }
      return d;
    }
  }

  // ---------------------------------------------------------------- requests

  /** A plain-text question about an uploaded media item; set task, sampling etc. on the builder. */
  public static GenerateRequest.Builder question(String mediaId, String text) {
    return GenerateRequest.newBuilder()
        .setMedia(MediaRef.newBuilder().setMediaId(mediaId))
        .setPrompt(Prompt.newBuilder().setText(text));
  }

  /** Same, limited to {@code maxNewTokens} generated tokens. */
  public static GenerateRequest question(String mediaId, String text, int maxNewTokens) {
    return question(mediaId, text)
        .setSampling(SamplingParams.newBuilder().setMaxNewTokens(maxNewTokens))
        .build();
  }

  // ---------------------------------------------------------------- generation

  /** Runs one request and returns its final result. Blocks; any thread. */
  public Answer generate(GenerateRequest request) {
    String mediaId = mediaIdOf(request.getMedia());
    GenerateFinal f =
        blocking(
            mediaId,
            () -> GenerationServiceGrpc.newBlockingStub(channel),
            s -> s.generate(request));
    return Answer.of(f);
  }

  /** Runs one request asynchronously; cancelling the future cancels the call. Any thread. */
  public CompletableFuture<Answer> generateAsync(GenerateRequest request) {
    String mediaId = mediaIdOf(request.getMedia());
    CompletableFuture<Answer> out = new CompletableFuture<>();
    RetryingCall<GenerateRequest, GenerateFinal> call =
        new RetryingCall<>(
            obs ->
                stub(GenerationServiceGrpc.newStub(channel), mediaId, deadline)
                    .generate(request, obs),
            retry,
            scheduler,
            new StreamObserver<>() {
              @Override
              public void onNext(GenerateFinal value) {
                out.complete(Answer.of(value));
              }

              @Override
              public void onError(Throwable t) {
                out.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                out.completeExceptionally(
                    new IllegalStateException("Generate completed without a response"));
              }
            },
            random,
            System::nanoTime,
            false);
    out.whenComplete(
        (a, t) -> {
          if (out.isCancelled()) {
            call.cancel("future cancelled");
          }
        });
    track(call).start();
    return out;
  }

  /** Streams the answer as an iterator; close it to cancel. Any thread. */
  public AnswerStream generateStream(GenerateRequest request) {
    String mediaId = mediaIdOf(request.getMedia());
    AnswerStream stream = new AnswerStream();
    RetryingCall<GenerateRequest, GenerateStreamResponse> call =
        new RetryingCall<>(
            obs ->
                stub(GenerationServiceGrpc.newStub(channel), mediaId, deadline)
                    .generateStream(request, obs),
            retry,
            scheduler,
            stream.sink(),
            random,
            System::nanoTime,
            true);
    stream.bind(call);
    track(call).start();
    return stream;
  }

  /** Streams the answer to a listener. Any thread. */
  public Cancellable generateStream(GenerateRequest request, StreamListener listener) {
    String mediaId = mediaIdOf(request.getMedia());
    RetryingCall<GenerateRequest, GenerateStreamResponse> call =
        new RetryingCall<>(
            obs ->
                stub(GenerationServiceGrpc.newStub(channel), mediaId, deadline)
                    .generateStream(request, obs),
            retry,
            scheduler,
            toListener(listener),
            random,
            System::nanoTime,
            false);
    track(call).start();
    return () -> call.cancel("cancelled by the client");
  }

  /** Aborts a running request by its request id, from any connection; true if it was found. */
  public boolean abort(String requestId) {
    return blocking(
            "",
            () -> GenerationServiceGrpc.newBlockingStub(channel),
            s -> s.abort(AbortRequest.newBuilder().setRequestId(requestId).build()))
        .getFound();
  }

  static StreamObserver<GenerateStreamResponse> toListener(StreamListener l) {
    return new StreamObserver<>() {
      @Override
      public void onNext(GenerateStreamResponse value) {
        StreamEvent e = Convert.event(value);
        if (e instanceof Delta d) {
          l.onDelta(d);
        } else {
          l.onAnswer((Answer) e);
        }
      }

      @Override
      public void onError(Throwable t) {
        l.onError(LlavaStException.from(t));
      }

      @Override
      public void onCompleted() {}
    };
  }

  // ---------------------------------------------------------------- media

  /** Uploads a file with {@link UploadOptions#defaults()}. Blocks; any thread. */
  public UploadResult upload(Path file) {
    return upload(file, UploadOptions.defaults());
  }

  /**
   * Uploads a file in chunks. The sha256 id is computed locally first; with {@code skipIfPresent} a
   * GetMedia finding that id skips the upload. Blocks; any thread.
   */
  public UploadResult upload(Path file, UploadOptions options) {
    long size;
    String localId;
    try {
      size = Files.size(file);
      localId = MediaIds.of(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    if (options.skipIfPresent()) {
      Optional<MediaInfo> existing = getMedia(localId);
      if (existing.isPresent()) {
        options.progress().onProgress(size, size);
        return new UploadResult(existing.get(), true, 0, 1);
      }
    }
    MediaKind kind = options.kind() != null ? options.kind() : kindOf(file);
    UploadHeader header =
        UploadHeader.newBuilder()
            .setKind(kind)
            .setLabel(options.label() != null ? options.label() : file.getFileName().toString())
            .setExpectedSizeBytes(size)
            .build();
    int chunk = options.chunkBytes();
    UploadResult r =
        uploadWithRetry(
            localId, header, size, () -> new FileChunks(file, chunk), options.progress());
    if (!r.mediaId().equals(localId)) {
      throw new IllegalStateException(
          "server media id "
              + r.mediaId()
              + " differs from the local sha256 "
              + localId
              + " of "
              + file
              + "; the file changed during the upload or the server hashes differently");
    }
    return r;
  }

  /**
   * Uploads pre-decoded frames (each an encoded JPEG or PNG) as one MEDIA_KIND_FRAMES item, one
   * frame per message. Blocks; any thread.
   */
  public UploadResult uploadFrames(
      List<byte[]> images, double fps, String label, @Nullable UploadProgress progress) {
    if (images.isEmpty() || !(fps > 0)) {
      throw new IllegalArgumentException(
          "need at least one frame and fps > 0, got " + images.size() + " frames, fps " + fps);
    }
    long total = 0;
    for (byte[] img : images) {
      total += img.length;
    }
    UploadHeader header =
        UploadHeader.newBuilder()
            .setKind(MediaKind.MEDIA_KIND_FRAMES)
            .setFramesFps(fps)
            .setLabel(label == null ? "" : label)
            .setExpectedSizeBytes(total)
            .build();
    return uploadWithRetry(
        "",
        header,
        total,
        () -> images.stream().map(ByteString::copyFrom).iterator(),
        progress == null ? UploadProgress.NONE : progress);
  }

  /** The media's metadata, or empty if the server does not know it. Blocks; any thread. */
  public Optional<MediaInfo> getMedia(String mediaId) {
    try {
      return Optional.of(
          blocking(
              mediaId,
              () -> MediaServiceGrpc.newBlockingStub(channel),
              s -> s.getMedia(GetMediaRequest.newBuilder().setMediaId(mediaId).build())));
    } catch (LlavaStException e) {
      if (e.code() == Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** Deletes a media item; returns the bytes released. Blocks; any thread. */
  public long deleteMedia(String mediaId) {
    return blocking(
            mediaId,
            () -> MediaServiceGrpc.newBlockingStub(channel),
            s -> s.deleteMedia(DeleteMediaRequest.newBuilder().setMediaId(mediaId).build()))
        .getReleasedBytes();
  }

  static MediaKind kindOf(Path file) {
    String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png")
        ? MediaKind.MEDIA_KIND_IMAGE
        : MediaKind.MEDIA_KIND_VIDEO;
  }

  private interface ChunkSource {
    java.util.Iterator<ByteString> open() throws IOException;
  }

  /** A file read in chunks; closed by the upload when it ends, normally or not. Not thread-safe. */
  private static final class FileChunks
      implements java.util.Iterator<ByteString>, java.io.Closeable {
    private final Path file;
    private final InputStream in;
    private final int chunkBytes;
    private @Nullable ByteString next;

    FileChunks(Path file, int chunkBytes) throws IOException {
      this.file = file;
      this.chunkBytes = chunkBytes;
      this.in = Files.newInputStream(file);
      this.next = read();
    }

    private @Nullable ByteString read() {
      try {
        byte[] b = in.readNBytes(chunkBytes);
        return b.length == 0 ? null : ByteString.copyFrom(b);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file, e);
      }
    }

    @Override
    public boolean hasNext() {
      return next != null;
    }

    @Override
    public ByteString next() {
      if (next == null) {
        throw new java.util.NoSuchElementException("end of " + file);
      }
      ByteString b = next;
      next = read();
      return b;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }

  private UploadResult uploadWithRetry(
      String mediaId,
      UploadHeader header,
      long total,
      ChunkSource chunks,
      UploadProgress progress) {
    long start = System.nanoTime();
    int attempt = 0;
    while (true) {
      attempt++;
      int[] sent = {0};
      try {
        MediaInfo info = uploadOnce(mediaId, header, total, chunks, progress, sent);
        return new UploadResult(info, false, sent[0], attempt);
      } catch (LlavaStException e) {
        if (!sleepBeforeRetry(e, attempt, start)) {
          throw e.withAttempts(attempt);
        }
      }
    }
  }

  private MediaInfo uploadOnce(
      String mediaId,
      UploadHeader header,
      long total,
      ChunkSource source,
      UploadProgress progress,
      int[] sentChunks) {
    CompletableFuture<MediaInfo> result = new CompletableFuture<>();
    Object ready = new Object();
    ClientResponseObserver<UploadMediaRequest, MediaInfo> obs =
        new ClientResponseObserver<>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<UploadMediaRequest> rs) {
            rs.setOnReadyHandler(
                () -> {
                  synchronized (ready) {
                    ready.notifyAll();
                  }
                });
          }

          @Override
          public void onNext(MediaInfo value) {
            result.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
            synchronized (ready) {
              ready.notifyAll();
            }
          }

          @Override
          public void onCompleted() {
            result.completeExceptionally(
                new IllegalStateException("UploadMedia completed without MediaInfo"));
          }
        };
    @SuppressWarnings("unchecked")
    ClientCallStreamObserver<UploadMediaRequest> req =
        (ClientCallStreamObserver<UploadMediaRequest>)
            stub(MediaServiceGrpc.newStub(channel), mediaId, uploadDeadline).uploadMedia(obs);
    java.util.Iterator<ByteString> it = null;
    try {
      req.onNext(UploadMediaRequest.newBuilder().setHeader(header).build());
      long sent = 0;
      it = source.open();
      while (it.hasNext() && !result.isDone()) {
        synchronized (ready) {
          while (!req.isReady() && !result.isDone()) {
            ready.wait(50);
          }
        }
        if (result.isDone()) {
          break;
        }
        ByteString b = it.next();
        req.onNext(UploadMediaRequest.newBuilder().setChunk(b).build());
        sent += b.size();
        sentChunks[0]++;
        progress.onProgress(sent, total);
      }
      if (!result.isDone()) {
        req.onCompleted();
      }
      return result.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      req.cancel("interrupted", e);
      throw LlavaStException.from(
          Status.CANCELLED.withDescription("upload interrupted").asRuntimeException());
    } catch (IOException | UncheckedIOException e) {
      req.cancel("cannot read the media", e);
      throw new UncheckedIOException(
          e instanceof IOException io ? io : ((UncheckedIOException) e).getCause());
    } catch (ExecutionException e) {
      throw LlavaStException.from(e.getCause() != null ? e.getCause() : e);
    } finally {
      if (it instanceof java.io.Closeable c) {
        try {
          c.close();
        } catch (IOException ignored) {
          // read-only file: nothing was lost
        }
      }
    }
  }

  // ---------------------------------------------------------------- sessions

  /**
   * Uploads the video (skipped if the server has it) and opens a session on it. Blocks; any thread.
   */
  public VideoSession openSession(Path video) {
    return openSession(video, UploadOptions.defaults());
  }

  public VideoSession openSession(Path video, UploadOptions options) {
    return openSession(upload(video, options).mediaId());
  }

  /** Opens a session on an uploaded media item. Blocks; any thread. */
  public VideoSession openSession(String mediaId) {
    return openSession(
        CreateSessionRequest.newBuilder()
            .setMedia(MediaRef.newBuilder().setMediaId(mediaId))
            .build());
  }

  /**
   * Opens a session with full control of the request (clip, system prompt, ttl). Blocks; any
   * thread.
   */
  public VideoSession openSession(CreateSessionRequest request) {
    String mediaId = mediaIdOf(request.getMedia());
    SessionInfo info =
        blocking(
            mediaId,
            () -> SessionServiceGrpc.newBlockingStub(channel),
            s -> s.createSession(request));
    return new VideoSession(this, info);
  }

  SessionInfo closeSession(String sessionId, String mediaId) {
    return blocking(
        mediaId,
        () -> SessionServiceGrpc.newBlockingStub(channel),
        s ->
            s.closeSession(
                dev.llavast.api.v1.CloseSessionRequest.newBuilder()
                    .setSessionId(sessionId)
                    .build()));
  }

  SessionInfo getSession(String sessionId, String mediaId) {
    return blocking(
        mediaId,
        () -> SessionServiceGrpc.newBlockingStub(channel),
        s ->
            s.getSession(
                dev.llavast.api.v1.GetSessionRequest.newBuilder().setSessionId(sessionId).build()));
  }

  AnswerStream ask(dev.llavast.api.v1.AskRequest request, String mediaId) {
    AnswerStream stream = new AnswerStream();
    RetryingCall<dev.llavast.api.v1.AskRequest, GenerateStreamResponse> call =
        new RetryingCall<>(
            obs -> stub(SessionServiceGrpc.newStub(channel), mediaId, deadline).ask(request, obs),
            retry,
            scheduler,
            stream.sink(),
            random,
            System::nanoTime,
            true);
    stream.bind(call);
    track(call).start();
    return stream;
  }

  // ---------------------------------------------------------------- admin

  public ModelInfo modelInfo() {
    return blocking(
        "",
        () -> AdminServiceGrpc.newBlockingStub(channel),
        s -> s.getModelInfo(GetModelInfoRequest.getDefaultInstance()));
  }

  public ServerStatus serverStatus() {
    return blocking(
        "",
        () -> AdminServiceGrpc.newBlockingStub(channel),
        s -> s.getServerStatus(GetServerStatusRequest.getDefaultInstance()));
  }

  // ---------------------------------------------------------------- plumbing

  private <C extends RetryingCall<?, ?>> C track(C call) {
    live.add(call);
    call.onFinish(() -> live.remove(call));
    return call;
  }

  /** The media id a request names (empty for inline media: nothing to route by). */
  static String mediaIdOf(MediaRef ref) {
    return ref.getSourceCase() == MediaRef.SourceCase.MEDIA_ID ? ref.getMediaId() : "";
  }

  private static <S extends AbstractStub<S>> S stub(S s, String mediaId, Duration deadline) {
    S out = s.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    if (!mediaId.isEmpty()) {
      Metadata md = new Metadata();
      md.put(MEDIA_ID_KEY, mediaId);
      ClientInterceptor header = MetadataUtils.newAttachHeadersInterceptor(md);
      out = out.withInterceptors(header);
    }
    return out;
  }

  /** A unary call with retries, in the calling thread. */
  private <S extends AbstractStub<S>, T> T blocking(
      String mediaId, java.util.function.Supplier<S> stubs, Function<S, T> call) {
    long start = System.nanoTime();
    int attempt = 0;
    while (true) {
      attempt++;
      try {
        return call.apply(stub(stubs.get(), mediaId, deadline));
      } catch (RuntimeException t) {
        LlavaStException e = LlavaStException.from(t);
        if (!sleepBeforeRetry(e, attempt, start)) {
          throw e.withAttempts(attempt);
        }
      }
    }
  }

  /** Sleeps the backoff and returns true if the policy allows another attempt. */
  private boolean sleepBeforeRetry(LlavaStException e, int attemptsMade, long startNanos) {
    Duration delay = retry.backoff(attemptsMade, e.retryDelay(), random.getAsDouble());
    Duration elapsedAtNext = Duration.ofNanos(System.nanoTime() - startNanos).plus(delay);
    if (!retry.shouldRetry(e, attemptsMade, elapsedAtNext)) {
      return false;
    }
    try {
      TimeUnit.NANOSECONDS.sleep(delay.toNanos());
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      return false;
    }
    return true;
  }

  /** The channel calls go through. */
  public Channel channel() {
    return channel;
  }

  /**
   * Cancels the calls still running (their listeners, futures and iterators see CANCELLED), then
   * shuts the owned channel down (waiting up to 5 s); a given channel is left open. Idempotent.
   */
  @Override
  public void close() {
    for (RetryingCall<?, ?> c : live.toArray(new RetryingCall<?, ?>[0])) {
      c.cancel("client closed");
    }
    scheduler.shutdownNow();
    if (ownedChannel != null) {
      ownedChannel.shutdown();
      try {
        if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
          ownedChannel.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        ownedChannel.shutdownNow();
      }
    }
  }
}

package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.llavast.api.v1.GenerateFinal;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.GenerationServiceGrpc;
import dev.llavast.api.v1.MediaInfo;
import dev.llavast.api.v1.MediaKind;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.MediaServiceGrpc;
import dev.llavast.api.v1.OutputOptions;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.api.v1.UploadHeader;
import dev.llavast.api.v1.UploadMediaRequest;
import dev.llavast.server.media.MediaTestFiles;
import io.grpc.stub.StreamObserver;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * One engine: the same media and prompt through the one-shot {@code generate --json} command and
 * through the server over loopback give identical greedy token ids, for a 100-frame folder (as the
 * model takes it), a 150-frame folder (sampled and resized like a video), an mp4 and an image. Both
 * doors run the tiny random-weight checkpoint, so any difference in media preparation, prompt
 * rendering, scheduling or answer assembly shows as different tokens.
 */
@Timeout(600)
class OneEngineParityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_NEW = 12;
  private static final String PROMPT = "What moves during {<t0.2>,<t0.6>}, and where is it?";

  @TempDir static Path dir;
  static Path model;
  static E2eClient server;

  @BeforeAll
  static void start() throws Exception {
    model = E2eClient.tinyCheckpoint(dir.resolve("ckpt"), 21);
    server =
        E2eClient.start(E2eClient.config(model, "cpu", 64, 64 << 20, 0, 16), Duration.ofMinutes(3));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void aFolderOfTheModelsFrameCount() throws Exception {
    framesFolder(100, 4.0);
  }

  @Test
  void aLongerFolderIsSampledLikeAVideo() throws Exception {
    framesFolder(150, 6.0);
  }

  @Test
  void anMp4() throws Exception {
    Path video = MediaTestFiles.movingSquare(dir.resolve("sq.mp4"), 72, 40, 45, 9);
    MediaInfo info = server.upload(MediaKind.MEDIA_KIND_VIDEO, Files.readAllBytes(video), "sq.mp4");
    assertSameTokens(PROMPT, info.getMediaId(), "--video", video.toString());
  }

  @Test
  void anImage() throws Exception {
    Path png = dir.resolve("img.png");
    Files.write(png, MediaTestFiles.png(90, 50, 200, 30, 120));
    MediaInfo info = server.upload(MediaKind.MEDIA_KIND_IMAGE, Files.readAllBytes(png), "img.png");
    assertSameTokens(
        "Where is the object in [<w0.1>,<h0.2>,<w0.5>,<h0.9>]?",
        info.getMediaId(),
        "--image",
        png.toString());
  }

  /**
   * A folder of {@code n} PNG frames whose colour changes, uploaded as MEDIA_KIND_FRAMES and given
   * to generate.
   */
  private static void framesFolder(int n, double fps) throws Exception {
    Path folder = Files.createDirectories(dir.resolve("frames-" + n));
    List<byte[]> frames = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] png = MediaTestFiles.png(48, 32, (5 * i) % 256, 255 - (3 * i) % 256, (11 * i) % 256);
      frames.add(png);
      Files.write(folder.resolve(String.format("frame-%04d.png", i)), png);
    }
    MediaInfo info = uploadFrames(frames, fps);
    assertThat(info.getFrameCount()).isEqualTo(n);
    JsonNode cli =
        assertSameTokens(
            PROMPT,
            info.getMediaId(),
            "--frames-dir",
            folder.toString(),
            "--fps",
            Double.toString(fps));
    assertThat(cli.at("/media/frame_count").intValue()).isEqualTo(n);
    assertThat(cli.at("/media/sampled_frames")).hasSize(100);
    assertThat(cli.at("/media/sampled_frames/99").intValue()).isEqualTo(n - 1);
  }

  /**
   * Asks the server (by media id) and the command (by file) the same question; returns the
   * command's JSON after checking that both generated the same ids.
   */
  private static JsonNode assertSameTokens(String question, String mediaId, String... cliMedia)
      throws Exception {
    List<String> args =
        new ArrayList<>(
            List.of(
                "generate",
                "--model-dir",
                model.toString(),
                "--prompt",
                question,
                "--max-new-tokens",
                Integer.toString(MAX_NEW),
                "--json"));
    args.addAll(List.of(cliMedia));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit =
        new CommandLine(new Main())
            .setOut(new PrintWriter(out, true))
            .setErr(new PrintWriter(err, true))
            .execute(args.toArray(new String[0]));
    assertThat(exit).as(err.toString()).isZero();
    JsonNode cli = JSON.readTree(out.toString());
    String prompt = cli.at("/prompt/text").asText();

    GenerateFinal fin =
        GenerationServiceGrpc.newBlockingStub(server.channel)
            .withDeadlineAfter(5, TimeUnit.MINUTES)
            .generate(
                GenerateRequest.newBuilder()
                    .setMedia(MediaRef.newBuilder().setMediaId(mediaId))
                    .setPrompt(Prompt.newBuilder().setText(prompt))
                    .setSampling(SamplingParams.newBuilder().setMaxNewTokens(MAX_NEW))
                    .setOutput(OutputOptions.newBuilder().setReturnTokenIds(true))
                    .build());
    List<Integer> cliIds = new ArrayList<>();
    cli.get("token_ids").forEach(n -> cliIds.add(n.intValue()));
    assertThat(cliIds)
        .as("greedy ids of generate --json and of the server")
        .isNotEmpty()
        .isEqualTo(fin.getTokenIdsList());
    assertThat(cli.get("text").asText()).isEqualTo(fin.getText());
    assertThat(cli.at("/usage/prompt_tokens").intValue())
        .isEqualTo(fin.getUsage().getPromptTokens());
    return cli;
  }

  private static MediaInfo uploadFrames(List<byte[]> frames, double fps) throws Exception {
    CompletableFuture<MediaInfo> done = new CompletableFuture<>();
    StreamObserver<UploadMediaRequest> req =
        MediaServiceGrpc.newStub(server.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .uploadMedia(
                new StreamObserver<>() {
                  @Override
                  public void onNext(MediaInfo value) {
                    done.complete(value);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    req.onNext(
        UploadMediaRequest.newBuilder()
            .setHeader(
                UploadHeader.newBuilder().setKind(MediaKind.MEDIA_KIND_FRAMES).setFramesFps(fps))
            .build());
    for (byte[] f : frames) {
      req.onNext(
          UploadMediaRequest.newBuilder()
              .setChunk(ByteString.copyFrom(f))
              .build()); // one frame per chunk
    }
    req.onCompleted();
    return done.get(60, TimeUnit.SECONDS);
  }
}

package dev.llavast.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.llavast.api.v1.BoxInput;
import dev.llavast.api.v1.ClipRange;
import dev.llavast.api.v1.GenerateRequest;
import dev.llavast.api.v1.InlineFrames;
import dev.llavast.api.v1.MediaRef;
import dev.llavast.api.v1.Prompt;
import dev.llavast.api.v1.PromptPart;
import dev.llavast.api.v1.SamplingParams;
import dev.llavast.server.ServerConfig;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

public class RequestValidatorTest {
  private static final String ID = "sha256:" + "ab".repeat(32);
  private final RequestValidator validator = new RequestValidator(ServerConfig.defaults());

  private static GenerateRequest.Builder valid() {
    return GenerateRequest.newBuilder()
        .setRequestId("req-1")
        .setMedia(MediaRef.newBuilder().setMediaId(ID))
        .setPrompt(Prompt.newBuilder().setText("When does the man open the door?"));
  }

  @Test
  void acceptsAWellFormedRequest() {
    assertThatCode(
            () ->
                validateOnTheWire(
                    valid()
                        .setClip(ClipRange.newBuilder().setStartSeconds(1).setEndSeconds(9))
                        .setSampling(
                            SamplingParams.newBuilder()
                                .setTemperature(0.7f)
                                .setTopP(0.8f)
                                .setTopK(20)
                                .setRepetitionPenalty(1.05f)
                                .setMaxNewTokens(64)
                                .addStop("\n\n"))
                        .build()))
        .doesNotThrowAnyException();
  }

  @Test
  void reportsEveryBadFieldAtOnce() {
    GenerateRequest bad =
        valid()
            .setRequestId("has spaces")
            .setMedia(MediaRef.newBuilder().setMediaId("abc"))
            .setClip(ClipRange.newBuilder().setStartSeconds(5).setEndSeconds(2))
            .setSampling(
                SamplingParams.newBuilder()
                    .setTemperature(-1)
                    .setTopP(1.5f)
                    .setTopK(5000)
                    .setRepetitionPenalty(3)
                    .setMaxNewTokens(100_000)
                    .addStop(""))
            .build();
    List<String> fields =
        violations(bad).stream()
            .map(BadRequest.FieldViolation::getField)
            .collect(Collectors.toList());
    assertThat(fields)
        .containsExactly(
            "request_id",
            "media.media_id",
            "clip.end_seconds",
            "sampling.temperature",
            "sampling.top_p",
            "sampling.top_k",
            "sampling.repetition_penalty",
            "sampling.max_new_tokens",
            "sampling.stop[0]");
  }

  @Test
  void messagesNameTheValueAndTheExpectation() {
    StatusRuntimeException e =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                validateOnTheWire(
                    valid().setSampling(SamplingParams.newBuilder().setTopP(1.5f)).build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("invalid sampling.top_p: must be in (0, 1] (0 = unset = 1), got 1.5");
    ErrorInfo info = unpack(e, ErrorInfo.class);
    assertThat(info.getReason()).isEqualTo("INVALID_REQUEST");
  }

  @Test
  void anUnknownConstraintIsRefusedByNumber() {
    GenerateRequest r =
        valid().setSampling(SamplingParams.newBuilder().setConstraintsValue(7)).build();
    assertThat(violations(r))
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly("sampling.constraints");
    assertThatCode(
            () ->
                validator.validate(
                    valid()
                        .setSampling(
                            SamplingParams.newBuilder()
                                .setConstraints(
                                    dev.llavast.api.v1.Constraints.CONSTRAINTS_TASK_SHAPE))
                        .build()))
        .doesNotThrowAnyException();
  }

  @Test
  void requiresMediaAndPrompt() {
    List<BadRequest.FieldViolation> v = violations(GenerateRequest.newBuilder().build());
    assertThat(v)
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly("media", "prompt");
    assertThat(
            violations(
                valid()
                    .setPrompt(
                        Prompt.newBuilder()
                            .setText("a")
                            .addParts(PromptPart.newBuilder().setText("b")))
                    .build()))
        .extracting(BadRequest.FieldViolation::getDescription)
        .containsExactly("sets both text and parts; use one of them");
  }

  @Test
  void checksStructuredPromptParts() {
    GenerateRequest r =
        valid()
            .setPrompt(
                Prompt.newBuilder()
                    .addParts(PromptPart.newBuilder().setText("what is in "))
                    .addParts(
                        PromptPart.newBuilder()
                            .setBox(
                                BoxInput.newBuilder()
                                    .setX1Px(50)
                                    .setY1Px(10)
                                    .setX2Px(20)
                                    .setY2Px(30)))
                    .addParts(PromptPart.newBuilder().setTimestampSeconds(Double.NaN))
                    .addParts(PromptPart.newBuilder()))
            .build();
    assertThat(violations(r))
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly(
            "prompt.parts[1].box.x2_px", "prompt.parts[2].timestamp_seconds", "prompt.parts[3]");
  }

  @Test
  void checksInlineMedia() {
    GenerateRequest frames =
        valid()
            .setMedia(
                MediaRef.newBuilder()
                    .setFrames(
                        InlineFrames.newBuilder()
                            .addImages(ByteString.copyFromUtf8("x"))
                            .addImages(ByteString.EMPTY)
                            .setFps(0)))
            .build();
    assertThat(violations(frames))
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly("media.frames.images[1]", "media.frames.fps");
    GenerateRequest empty =
        valid().setMedia(MediaRef.newBuilder().setVideoBytes(ByteString.EMPTY)).build();
    assertThat(violations(empty))
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly("media.video_bytes");
  }

  /** Validates as the service does and returns the error as gRPC sends it. */
  private void validateOnTheWire(GenerateRequest r) {
    try {
      validator.validate(r);
    } catch (dev.llavast.server.errors.ApiException e) {
      throw GrpcErrors.toStatus(e);
    }
  }

  private void validateOnTheWire(GenerateRequest.Builder r) {
    validateOnTheWire(r.build());
  }

  private List<BadRequest.FieldViolation> violations(GenerateRequest r) {
    StatusRuntimeException e =
        catchThrowableOfType(StatusRuntimeException.class, () -> validateOnTheWire(r));
    assertThat(e).as("expected a violation").isNotNull();
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    return unpack(e, BadRequest.class).getFieldViolationsList();
  }

  public static <T extends com.google.protobuf.Message> T unpack(
      StatusRuntimeException e, Class<T> type) {
    return StatusProto.fromThrowable(e).getDetailsList().stream()
        .filter(a -> a.is(type))
        .map(
            a -> {
              try {
                return a.unpack(type);
              } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                throw new AssertionError(x);
              }
            })
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " in " + e));
  }
}

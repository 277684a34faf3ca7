package dev.llavast.server.generation;

import dev.llavast.models.coords.Task;
import dev.llavast.models.media.ClipRange;
import dev.llavast.models.media.DecodedMedia;
import dev.llavast.models.tokenizer.ChatTemplate;
import dev.llavast.server.media.MediaStore.StoredMedia;
import dev.llavast.server.tenancy.Tenant;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * One question to answer, in plain values: what every door (gRPC, the {@code generate} command)
 * hands {@link Engine#start} after checking its own input.
 *
 * @param requestId the client's id, or empty for one the engine chooses
 * @param media the media the question is about
 * @param clip the clip in seconds, or null for the whole media (ignored for an image)
 * @param question the user's question
 * @param task which template wraps the question and how the answer is read
 * @param sampling how to sample
 * @param priority higher is admitted first and preempted last; 0 is the default
 * @param timeout time allowed from arrival to the last token, or null for none
 * @param systemPrompt null or empty for the model's default
 * @param history earlier turns of the conversation (sessions), oldest first
 * @param tenant whose request it is: its request id lives in that tenant's namespace
 */
public record GenerationJob(
    String requestId,
    Media media,
    @Nullable ClipRange clip,
    Question question,
    Task task,
    Sampling sampling,
    int priority,
    @Nullable Duration timeout,
    @Nullable String systemPrompt,
    List<ChatTemplate.Turn> history,
    Tenant tenant) {

  public GenerationJob {
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(media, "media");
    Objects.requireNonNull(question, "question");
    Objects.requireNonNull(task, "task");
    Objects.requireNonNull(sampling, "sampling");
    Objects.requireNonNull(tenant, "tenant");
    history = List.copyOf(history);
  }

  /** A job of the open tenant (a server without API keys, the {@code generate} command). */
  public GenerationJob(
      String requestId,
      Media media,
      @Nullable ClipRange clip,
      Question question,
      Task task,
      Sampling sampling,
      int priority,
      @Nullable Duration timeout,
      @Nullable String systemPrompt,
      List<ChatTemplate.Turn> history) {
    this(
        requestId,
        media,
        clip,
        question,
        task,
        sampling,
        priority,
        timeout,
        systemPrompt,
        history,
        Tenant.OPEN);
  }

  /**
   * The media of a job: its kind is known at once (it decides the prompt's shape); the stored item
   * may still be arriving (inline media being hashed and probed).
   *
   * @param kind video, image or frames
   * @param stored completes with the stored media, or fails with the reason it cannot be used
   */
  public record Media(DecodedMedia.Kind kind, CompletableFuture<StoredMedia> stored) {
    public Media {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(stored, "stored");
    }

    /** Media already in the store. */
    public static Media of(StoredMedia media) {
      return new Media(media.kind(), CompletableFuture.completedFuture(media));
    }
  }
}

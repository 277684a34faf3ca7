package dev.llavast.client.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One bench run: the workload (V videos, Q questions per video, M max tokens) played at each
 * concurrency level, bounded by count (V * Q requests per level) and by time (per level).
 *
 * @param videoFiles videos to upload; when empty, {@code generatedVideos} synthetic frame sequences
 *     are used
 * @param generatedVideos V when no files are given
 * @param questionsPerVideo Q
 * @param concurrency C per level (a sweep when several)
 * @param maxNewTokens M
 * @param arrivalRate open-loop arrivals per second (Poisson); 0 for closed loop (C clients back to
 *     back)
 * @param maxDuration time bound of each level; in-flight requests are cancelled after a grace of
 *     the same length
 * @param questions question texts, used in turn
 * @param seed seed of generated videos and arrival times
 * @param warmupRequests requests sent one at a time before the first level, about an extra
 *     generated video (so the workload's caches stay cold), and left out of the results
 */
public record BenchConfig(
    List<Path> videoFiles,
    int generatedVideos,
    int questionsPerVideo,
    List<Integer> concurrency,
    int maxNewTokens,
    double arrivalRate,
    Duration maxDuration,
    List<String> questions,
    long seed,
    int warmupRequests) {

  public static final List<String> DEFAULT_QUESTIONS =
      List.of(
          "Describe what happens in the video.",
          "When does the main event happen?",
          "Where is the moving object at the start?",
          "What color is the object?",
          "How many objects are visible?",
          "What happens at the end of the video?");

  public BenchConfig {
    videoFiles = List.copyOf(videoFiles);
    concurrency = List.copyOf(concurrency);
    questions = List.copyOf(questions);
    if (videoFiles.isEmpty() && generatedVideos < 1) {
      throw new IllegalArgumentException(
          "need video files or generatedVideos >= 1, got " + generatedVideos);
    }
    if (questionsPerVideo < 1) {
      throw new IllegalArgumentException(
          "questionsPerVideo must be >= 1, got " + questionsPerVideo);
    }
    if (concurrency.isEmpty() || concurrency.stream().anyMatch(c -> c < 1)) {
      throw new IllegalArgumentException("concurrency levels must be >= 1, got " + concurrency);
    }
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
    }
    if (arrivalRate < 0) {
      throw new IllegalArgumentException("arrivalRate must be >= 0, got " + arrivalRate);
    }
    if (maxDuration.isZero() || maxDuration.isNegative()) {
      throw new IllegalArgumentException("maxDuration must be > 0, got " + maxDuration);
    }
    if (warmupRequests < 0) {
      throw new IllegalArgumentException("warmupRequests must be >= 0, got " + warmupRequests);
    }
    if (questions.isEmpty()) {
      throw new IllegalArgumentException("need at least one question");
    }
  }

  public int videoCount() {
    return videoFiles.isEmpty() ? generatedVideos : videoFiles.size();
  }

  /** Requests per level: V * Q. */
  public int requestsPerLevel() {
    return videoCount() * questionsPerVideo;
  }
}

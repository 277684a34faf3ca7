package dev.llavast.scheduler;

import java.util.Objects;

/**
 * A grammar that a request's generated tokens must follow. The scheduler only carries it with the
 * sampling parameters; the executor enforces it while it samples. Immutable.
 *
 * @param kind what is constrained
 * @param task the task whose answer shape applies, by the model's task name (used with {@link
 *     Kind#TASK_SHAPE}; otherwise informative)
 * @param timeAxis whether the media has a time axis (a video): without one, no time value may be
 *     generated
 */
public record OutputConstraint(Kind kind, String task, boolean timeAxis) {
  /** No constraint. */
  public static final OutputConstraint NONE = new OutputConstraint(Kind.NONE, "", true);

  /** What a constraint covers. */
  public enum Kind {
    /** Nothing: the model samples freely. */
    NONE,
    /**
     * Every coordinate group is well-formed and geometrically valid; coordinates appear nowhere
     * else.
     */
    COORDINATES,
    /**
     * {@link #COORDINATES} plus the task's answer shape (e.g. exactly one span for temporal
     * grounding).
     */
    TASK_SHAPE
  }

  public OutputConstraint {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(task, "task");
  }

  public boolean isNone() {
    return kind == Kind.NONE;
  }
}

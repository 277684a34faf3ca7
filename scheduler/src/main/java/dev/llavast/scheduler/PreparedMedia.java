package dev.llavast.scheduler;

/**
 * Decoded and preprocessed media, ready for the vision encoder (the model's own representation,
 * e.g. normalized pixels in host memory). Opaque to the scheduler.
 *
 * <p>Immutable once built; may be handed from the decode pool to a worker thread.
 */
public interface PreparedMedia {
  /** Content hash plus preprocessing parameters: the key under which features are cached. */
  String mediaKey();

  /** Host bytes held by this object, for admission and accounting. */
  long bytes();
}

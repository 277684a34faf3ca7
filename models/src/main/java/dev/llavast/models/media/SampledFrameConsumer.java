package dev.llavast.models.media;

/**
 * Receives each distinct sampled frame as soon as it is decoded, so the caller can preprocess it
 * right away instead of holding every full-size frame.
 *
 * <p>Called on the decoding thread, in increasing {@code sourceFrame} order, at most once per
 * source frame. A file whose stream ends before its declared frame count is decoded a second time
 * with the corrected count; frames delivered by the first pass stay valid (a source index always
 * means the same picture), so a consumer should key its results by {@code sourceFrame} and use
 * {@link DecodedMedia#sampledIndices()} at the end.
 */
@FunctionalInterface
public interface SampledFrameConsumer {
  void accept(int sourceFrame, RgbImage image);
}

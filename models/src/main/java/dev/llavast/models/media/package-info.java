/**
 * Media input (spec §1): {@link dev.llavast.models.media.MediaDecoder} decodes videos (FFmpeg via
 * JavaCV), images (ImageIO) and pre-decoded frames, sampling videos with {@link
 * dev.llavast.models.media.FrameSampler}; {@link dev.llavast.models.media.ImagePreprocessor}
 * resizes like Pillow's BICUBIC and normalizes to {@link dev.llavast.models.PixelFrames}; {@link
 * dev.llavast.models.media.MediaKeys} builds cache keys. Bad client media always ends in a {@link
 * dev.llavast.models.media.MediaException} with a reason.
 *
 * <p>All of it is CPU work: run it on a bounded CPU pool, never on a device thread.
 */
package dev.llavast.models.media;

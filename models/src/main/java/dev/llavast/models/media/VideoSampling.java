package dev.llavast.models.media;

/**
 * The outcome of sampling a video without the pixels: the container's metadata, the clip and the
 * original frame index of every sampled frame.
 *
 * @param info original size, fps, duration, frame count
 * @param clipStart {@code s}, first original frame of the clip
 * @param clipEnd {@code e}, last original frame of the clip (inclusive)
 * @param sampledIndices {@code f_i}, {@code [numFrames]}
 */
public record VideoSampling(VideoInfo info, int clipStart, int clipEnd, int[] sampledIndices) {}

package dev.llavast.models.media;

/**
 * What the container says about a video (or an image, seen as a one-frame video with fps 0).
 *
 * @param width original frame width in pixels
 * @param height original frame height in pixels
 * @param fps average frame rate ({@code avg_frame_rate}); 0 for images
 * @param durationSeconds container duration; for pre-decoded frames {@code frames / fps}
 * @param frameCount {@code N}: the stream's frame count ({@code nb_frames}, or {@code round(fps *
 *     duration)} when the container has none, like decord), corrected to the number of frames
 *     actually decodable when the stream ends early
 */
public record VideoInfo(
    int width, int height, double fps, double durationSeconds, int frameCount) {}

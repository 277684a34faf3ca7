package dev.llavast.client;

import dev.llavast.api.v1.MediaInfo;

/**
 * The outcome of an upload.
 *
 * @param media the server's metadata of the media
 * @param skipped true when the server already had this content and no byte was sent
 * @param chunks content messages sent
 * @param attempts upload attempts made (more than 1 after retries)
 */
public record UploadResult(MediaInfo media, boolean skipped, int chunks, int attempts) {
  public String mediaId() {
    return media.getMediaId();
  }
}

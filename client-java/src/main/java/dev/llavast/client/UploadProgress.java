package dev.llavast.client;

/** Upload progress, called on the uploading thread after each chunk is handed to gRPC. */
@FunctionalInterface
public interface UploadProgress {
  UploadProgress NONE = (sent, total) -> {};

  /**
   * @param sentBytes content bytes sent so far
   * @param totalBytes all content bytes of this upload
   */
  void onProgress(long sentBytes, long totalBytes);
}

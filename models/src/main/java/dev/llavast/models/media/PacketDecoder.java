package dev.llavast.models.media;

import dev.llavast.models.media.MediaException.Reason;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avformat;
import org.bytedeco.ffmpeg.global.avutil;
import org.jspecify.annotations.Nullable;

/**
 * Demuxes and decodes the first video stream of an opened container, one picture at a time in the
 * decoder's output order, with our own codec context: {@code threads} FFmpeg threads, nothing
 * converted. What {@code ffmpeg -threads N -i X -f null -} does per frame, and no more; the caller
 * converts the pictures it keeps ({@link RgbConverter}).
 *
 * <p>Owns native memory (codec context, packet, frame), not the format context (its opener closes
 * it). One owner, one thread; not thread-safe.
 */
final class PacketDecoder implements AutoCloseable {
  private final AVFormatContext oc;
  private final int streamIndex;
  private final AVCodecContext ctx;
  private final AVPacket pkt;
  private final AVFrame frame;
  private boolean draining;
  private boolean done;
  private boolean closed;

  /**
   * @throws MediaException when the container has no video stream FFmpeg can decode
   */
  PacketDecoder(AVFormatContext oc, int threads) {
    this.oc = oc;
    int found = -1;
    for (int i = 0; i < oc.nb_streams(); i++) {
      AVStream st = oc.streams(i);
      if (st.codecpar().codec_type() == avutil.AVMEDIA_TYPE_VIDEO
          && st.codecpar().codec_id() != avcodec.AV_CODEC_ID_NONE) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      throw new MediaException(Reason.NO_VIDEO_STREAM, "the media has no video stream");
    }
    this.streamIndex = found;
    AVCodec codec = avcodec.avcodec_find_decoder(oc.streams(found).codecpar().codec_id());
    if (codec == null || codec.isNull()) {
      throw new MediaException(Reason.UNREADABLE, "FFmpeg has no decoder for the video codec");
    }
    ctx = avcodec.avcodec_alloc_context3(codec);
    pkt = avcodec.av_packet_alloc();
    frame = avutil.av_frame_alloc();
    if (ctx == null || pkt == null || frame == null) {
      close();
      throw new OutOfMemoryError("cannot allocate an FFmpeg decoder");
    }
    if (avcodec.avcodec_parameters_to_context(ctx, oc.streams(found).codecpar()) < 0) {
      close();
      throw new MediaException(Reason.UNREADABLE, "the video stream's parameters are invalid");
    }
    ctx.thread_count(threads);
    AVDictionary none = null;
    int ret = avcodec.avcodec_open2(ctx, codec, none);
    if (ret < 0) {
      close();
      throw new MediaException(
          Reason.UNREADABLE, "FFmpeg cannot open the video decoder (error " + ret + ")");
    }
  }

  /**
   * The next decoded picture, valid until the next call; null at the end of the stream, or where a
   * damaged packet ends the decodable part (as the grabber treated it before).
   */
  @Nullable AVFrame next() {
    while (!done) {
      int r = avcodec.avcodec_receive_frame(ctx, frame);
      if (r == 0) {
        return frame;
      }
      if (r != avutil.AVERROR_EAGAIN()) {
        done = true; // AVERROR_EOF after draining, or a decoding error
        break;
      }
      if (draining) {
        done = true;
        break;
      }
      if (!sendNextPacket()) {
        done = true;
      }
    }
    return null;
  }

  /** Feeds the decoder one video packet (or the end-of-stream flush); false on an error. */
  private boolean sendNextPacket() {
    while (true) {
      int r = avformat.av_read_frame(oc, pkt);
      if (r < 0) {
        draining = true;
        return avcodec.avcodec_send_packet(ctx, null) >= 0;
      }
      try {
        if (pkt.stream_index() == streamIndex) {
          return avcodec.avcodec_send_packet(ctx, pkt) >= 0;
        }
      } finally {
        avcodec.av_packet_unref(pkt);
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    // The constructor may call this with an allocation that failed (null).
    if (frame != null) {
      avutil.av_frame_free(frame);
    }
    if (pkt != null) {
      avcodec.av_packet_free(pkt);
    }
    if (ctx != null) {
      avcodec.avcodec_free_context(ctx);
    }
  }
}

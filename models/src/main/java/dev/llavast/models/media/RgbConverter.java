package dev.llavast.models.media;

import dev.llavast.models.media.MediaException.Reason;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.ffmpeg.global.swscale;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Converts decoded pictures to packed RGB24 with libswscale, exactly as JavaCV's grabber does when
 * asked for RGB (same size, {@code SWS_BICUBIC} chroma interpolation, no colour-space overrides),
 * but only for the pictures it is given: the decoder hands it the sampled frames and nothing else.
 * The context and the native output buffer are made once per picture size and reused. Rows are
 * padded to a multiple of 64 bytes as JavaCV pads them: swscale takes its SIMD path only for
 * aligned rows, and that path rounds differently from its C fallback, so the padding is part of
 * getting the same bytes.
 *
 * <p>Owns native memory (the context and one frame-sized buffer): one owner, one thread, closed
 * when the decode ends. Not thread-safe.
 */
final class RgbConverter implements AutoCloseable {
  private SwsContext ctx;
  private BytePointer buf; // [h, stride]: rows of w * 3 bytes, padded to a multiple of 64
  private int stride;
  private java.nio.ByteBuffer view; // buf as a direct buffer: row copies without a JNI call each
  private PointerPointer<?> dstData;
  private IntPointer dstLinesize;
  private int width;
  private int height;

  /**
   * Converts {@code picture} (any pixel format FFmpeg decodes to) to an RGB image whose array comes
   * from {@code buffers} (asked for {@code 3 * w * h} bytes; it may recycle arrays no one reads any
   * more, since a fresh frame-sized array per frame costs more than the conversion).
   */
  RgbImage convert(AVFrame picture, java.util.function.IntFunction<byte[]> buffers) {
    int w = picture.width();
    int h = picture.height();
    int fmt = picture.format();
    if (w <= 0 || h <= 0 || fmt < 0) {
      throw new MediaException(
          Reason.UNREADABLE, "a decoded frame has no size or pixel format (" + w + "x" + h + ")");
    }
    ctx =
        swscale.sws_getCachedContext(
            ctx,
            w,
            h,
            fmt,
            w,
            h,
            avutil.AV_PIX_FMT_RGB24,
            swscale.SWS_BICUBIC,
            null,
            null,
            (DoublePointer) null);
    if (ctx == null || ctx.isNull()) {
      throw new MediaException(
          Reason.UNREADABLE, "FFmpeg cannot convert pixel format " + fmt + " to RGB");
    }
    if (w != width || h != height) {
      freeBuffer();
      stride = 3 * ((w + 63) & ~63);
      long bytes = (long) stride * h;
      buf = new BytePointer(avutil.av_malloc(bytes)).capacity(bytes);
      if (buf.isNull()) {
        throw new OutOfMemoryError("cannot allocate a " + w + "x" + h + " RGB frame");
      }
      view = buf.asByteBuffer();
      dstData = new PointerPointer<BytePointer>(4).put(0, buf);
      dstLinesize = new IntPointer(stride, 0, 0, 0);
      width = w;
      height = h;
    }
    int rows =
        swscale.sws_scale(ctx, picture.data(), picture.linesize(), 0, h, dstData, dstLinesize);
    if (rows != h) {
      throw new MediaException(
          Reason.UNREADABLE, "FFmpeg converted " + rows + " of " + h + " rows of a frame");
    }
    byte[] out = buffers.apply(3 * w * h); // [h, w, 3]
    if (out.length != 3 * w * h) {
      throw new IllegalStateException("asked for " + (3 * w * h) + " bytes, got " + out.length);
    }
    int row = 3 * w;
    for (int y = 0; y < h; y++) {
      view.get(y * stride, out, y * row, row);
    }
    return new RgbImage(w, h, out);
  }

  private void freeBuffer() {
    view = null;
    if (buf != null) {
      avutil.av_free(buf);
      buf = null;
    }
    if (dstData != null) {
      dstData.close();
      dstLinesize.close();
      dstData = null;
      dstLinesize = null;
    }
  }

  @Override
  public void close() {
    freeBuffer();
    if (ctx != null) {
      swscale.sws_freeContext(ctx);
      ctx = null;
    }
  }
}

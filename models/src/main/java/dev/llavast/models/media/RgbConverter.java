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
import org.jspecify.annotations.Nullable;

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
  private @Nullable SwsContext ctx;
  private @Nullable Target target; // the destination of the current frame size

  /** swscale's destination for one frame size: native memory freed by {@link #close}. */
  private static final class Target implements AutoCloseable {
    final int width;
    final int height;
    final int stride;
    final BytePointer buf; // [h, stride]: rows of w * 3 bytes, padded to a multiple of 64
    final java.nio.ByteBuffer view; // buf as a direct buffer: row copies without a JNI call each
    final PointerPointer<?> dstData;
    final IntPointer dstLinesize;

    Target(int w, int h) {
      width = w;
      height = h;
      stride = 3 * ((w + 63) & ~63);
      long bytes = (long) stride * h;
      buf = new BytePointer(avutil.av_malloc(bytes)).capacity(bytes);
      if (buf.isNull()) {
        throw new OutOfMemoryError("cannot allocate a " + w + "x" + h + " RGB frame");
      }
      view = buf.asByteBuffer();
      dstData = new PointerPointer<BytePointer>(4).put(0, buf);
      dstLinesize = new IntPointer(stride, 0, 0, 0);
    }

    @Override
    public void close() {
      avutil.av_free(buf);
      dstData.close();
      dstLinesize.close();
    }
  }

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
    SwsContext c =
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
    if (c == null || c.isNull()) {
      throw new MediaException(
          Reason.UNREADABLE, "FFmpeg cannot convert pixel format " + fmt + " to RGB");
    }
    ctx = c;
    Target t = target;
    if (t == null || w != t.width || h != t.height) {
      if (t != null) {
        target = null;
        t.close();
      }
      t = new Target(w, h);
      target = t;
    }
    int rows =
        swscale.sws_scale(c, picture.data(), picture.linesize(), 0, h, t.dstData, t.dstLinesize);
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
      t.view.get(y * t.stride, out, y * row, row);
    }
    return new RgbImage(w, h, out);
  }

  @Override
  public void close() {
    if (target != null) {
      target.close();
      target = null;
    }
    if (ctx != null) {
      swscale.sws_freeContext(ctx);
      ctx = null;
    }
  }
}

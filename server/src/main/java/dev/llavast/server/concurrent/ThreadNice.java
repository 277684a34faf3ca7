package dev.llavast.server.concurrent;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background priority for threads whose work can wait: Linux schedules each thread on its own, and
 * a thread with a higher nice value gets a smaller share of a contended core but every idle cycle
 * (the scheduler is work-conserving). Media decoding runs this way so that, on a machine whose
 * cores it shares with a CPU worker, running streams keep their step time while a new video
 * decodes; when nothing else runs, the media threads use every core as before. Threads FFmpeg
 * starts from such a thread inherit its nice value.
 *
 * <p>Raising one's own nice value needs no privilege. Where it cannot be done (not Linux, no C
 * library) the thread keeps its priority and the first failure is logged once.
 */
final class ThreadNice {
  private static final Logger log = LoggerFactory.getLogger(ThreadNice.class);
  private static final int PRIO_PROCESS = 0; // with a thread id: that thread only (Linux)
  private static final AtomicBoolean WARNED = new AtomicBoolean();

  /** The two glibc calls used (glibc 2.30+ exports gettid). */
  interface LibC extends Library {
    int gettid() throws LastErrorException;

    int setpriority(int which, int who, int prio) throws LastErrorException;
  }

  private static final class Holder {
    static final LibC C = Native.load("c", LibC.class);
  }

  private ThreadNice() {}

  /**
   * Sets the calling thread's nice value to {@code nice} (0 leaves it alone). Calling thread only.
   *
   * @return whether the value was set
   */
  static boolean applyToCurrentThread(int nice) {
    if (nice == 0) {
      return false;
    }
    if (!Platform.isLinux()) {
      warnOnce("thread priorities are only lowered on Linux");
      return false;
    }
    try {
      LibC c = Holder.C;
      c.setpriority(PRIO_PROCESS, c.gettid(), nice);
      return true;
    } catch (LastErrorException | LinkageError e) {
      warnOnce("could not lower a thread's priority (" + e.getClass().getSimpleName() + ")");
      return false;
    }
  }

  private static void warnOnce(String why) {
    if (WARNED.compareAndSet(false, true)) {
      log.warn("background threads (media decoding) keep the normal priority: {}", why);
    }
  }
}

package dev.llavast.server.errors;

import java.security.SecureRandom;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A failure nobody foresaw (a bug, not bad input): logged once, with its stack, under a fresh error
 * id that the client's MODEL_FAILURE also carries ({@code error_id} in ErrorInfo), so an operator
 * can find the log line a user reports. Any thread.
 */
public final class Unexpected {
  private static final Logger log = LoggerFactory.getLogger(Unexpected.class);
  private static final SecureRandom RANDOM = new SecureRandom();

  private Unexpected() {}

  /**
   * Logs {@code cause} and returns the client's error for it.
   *
   * @param where what was going on, for the log (e.g. the method's name)
   */
  public static ApiException report(String where, Throwable cause) {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    String id = HexFormat.of().formatHex(b);
    log.error("{} failed unexpectedly (error id {})", where, id, cause);
    return ApiException.builder(
            Reason.MODEL_FAILURE,
            "internal error; the server logged it with error id " + id + " and keeps serving")
        .metadata("error_id", id)
        .cause(cause)
        .build();
  }
}

package dev.llavast.server.generation;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parsed {@code --devices} flag: {@code cpu} (one CPU worker), {@code cpu:N} (N CPU workers) or
 * {@code cuda:0,1,...} (one worker per listed GPU). Immutable.
 *
 * @param gpu whether the workers are GPUs
 * @param ordinals one entry per worker: the GPU index, or 0..N-1 for CPU workers
 */
public record DeviceSpec(boolean gpu, List<Integer> ordinals) {
  private static final Pattern CPU = Pattern.compile("cpu(?::([1-9][0-9]{0,2}))?");
  private static final Pattern CUDA = Pattern.compile("cuda:([0-9]{1,2}(?:,[0-9]{1,2})*)");

  public DeviceSpec {
    ordinals = List.copyOf(ordinals);
  }

  /**
   * Parses a device list.
   *
   * @throws IllegalArgumentException naming the bad value and the accepted forms
   */
  public static DeviceSpec parse(String text) {
    String s = text.trim().toLowerCase(java.util.Locale.ROOT);
    Matcher m = CPU.matcher(s);
    if (m.matches()) {
      int n = m.group(1) == null ? 1 : Integer.parseInt(m.group(1));
      List<Integer> ids = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        ids.add(i);
      }
      return new DeviceSpec(false, ids);
    }
    m = CUDA.matcher(s);
    if (m.matches()) {
      List<Integer> ids = new ArrayList<>();
      for (String part : m.group(1).split(",")) {
        int id = Integer.parseInt(part);
        if (ids.contains(id)) {
          throw new IllegalArgumentException(
              "--devices lists cuda:" + id + " twice in '" + text + "'");
        }
        ids.add(id);
      }
      return new DeviceSpec(true, ids);
    }
    throw new IllegalArgumentException(
        "--devices must be 'cpu', 'cpu:N' (1..999) or 'cuda:0,1,...', got '" + text + "'");
  }

  /** Worker names, e.g. {@code cpu:0}, {@code cuda:1}. */
  public List<String> names() {
    List<String> out = new ArrayList<>();
    for (int id : ordinals) {
      out.add((gpu ? "cuda:" : "cpu:") + id);
    }
    return out;
  }
}

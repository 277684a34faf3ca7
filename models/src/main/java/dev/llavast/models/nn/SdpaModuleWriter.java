package dev.llavast.models.nn;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a parameter-free TorchScript archive whose {@code forward} calls libtorch's {@code
 * scaled_dot_product_attention}, without Python: the archive is a zip of TorchScript source text
 * and two tiny pickles, read by {@code torch::jit::load} (DJL's {@code JniUtils.loadModule}).
 *
 * <p>Layout, as libtorch's reader expects it (every entry under one top folder, the archive name):
 *
 * <ul>
 *   <li>{@code <name>/version}: the file-format version, {@code 3} (the lowest TorchScript writes
 *       and accepts without operator upgraders);
 *   <li>{@code <name>/byteorder}: {@code little};
 *   <li>{@code <name>/code/__torch__.py}: the class source; the unpickler resolves the class name
 *       {@code __torch__.<Class>} by loading {@code code/} + qualifier-as-path + {@code .py};
 *   <li>{@code <name>/data.pkl}: the module object, pickle protocol 2: {@code GLOBAL '__torch__
 *       <Class>'}, {@code EMPTY_TUPLE NEWOBJ}, its state dict {@code {'training': False}} and
 *       {@code BUILD} (every attribute the class declares must be in the dict);
 *   <li>{@code <name>/constants.pkl}: the (empty) tuple of tensor constants.
 * </ul>
 *
 * Entries are stored, not deflated. Stateless; any thread.
 */
public final class SdpaModuleWriter {
  /** Which call the module's {@code forward} makes. */
  public enum Kind {
    /** {@code forward(q, k, v, mask)}: additive (or boolean) mask, no causal flag. */
    MASKED("SdpaMasked", "q: Tensor,\n    k: Tensor,\n    v: Tensor,\n    mask: Tensor", "mask"),
    /** {@code forward(q, k, v)}: no mask. */
    UNMASKED("SdpaUnmasked", "q: Tensor,\n    k: Tensor,\n    v: Tensor", "None");

    final String className;
    final String params;
    final String maskArg;

    Kind(String className, String params, String maskArg) {
      this.className = className;
      this.params = params;
      this.maskArg = maskArg;
    }
  }

  private SdpaModuleWriter() {}

  /**
   * The TorchScript source of {@code kind}'s class. The scale is 1: callers fold {@code 1/sqrt(D)}
   * into q, as the composed path does.
   */
  static String source(Kind kind) {
    return "class "
        + kind.className
        + "(Module):\n"
        + "  __parameters__ = []\n"
        + "  __buffers__ = []\n"
        + "  training : bool\n"
        + "  def forward(self: __torch__."
        + kind.className
        + ",\n    "
        + kind.params
        + ") -> Tensor:\n"
        + "    return torch.scaled_dot_product_attention(q, k, v, "
        + kind.maskArg
        + ", 0., False, scale=1.)\n";
  }

  /** The archive's bytes for {@code kind}, all entries under the folder {@code name}. */
  public static byte[] archive(Kind kind, String name) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      put(zip, name + "/data.pkl", dataPickle(kind.className));
      put(zip, name + "/code/__torch__.py", source(kind).getBytes(StandardCharsets.UTF_8));
      put(zip, name + "/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
      put(zip, name + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
      put(zip, name + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
    }
    return bytes.toByteArray();
  }

  /** Writes {@code kind}'s archive to {@code file} (its name's stem is the archive folder). */
  public static Path write(Kind kind, Path file) throws IOException {
    String fn = file.getFileName().toString();
    String stem = fn.endsWith(".pt") ? fn.substring(0, fn.length() - 3) : fn;
    Files.write(file, archive(kind, stem));
    return file;
  }

  /**
   * Protocol-2 pickle of a module object of class {@code __torch__.<className>} in eval mode:
   * {@code PROTO 2, GLOBAL, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, MARK, BINUNICODE 'training', NEWFALSE,
   * SETITEMS, BUILD, STOP}.
   */
  static byte[] dataPickle(String className) throws IOException {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(new byte[] {(byte) 0x80, 2}); // PROTO 2
    p.write(('c' + "__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII)); // GLOBAL
    p.write(')'); // EMPTY_TUPLE
    p.write(0x81); // NEWOBJ
    p.write('}'); // EMPTY_DICT
    p.write('('); // MARK
    binUnicode(p, "training");
    p.write(0x89); // NEWFALSE
    p.write('u'); // SETITEMS
    p.write('b'); // BUILD
    p.write('.'); // STOP
    return p.toByteArray();
  }

  private static void binUnicode(OutputStream p, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    p.write('X');
    p.write(new byte[] {(byte) b.length, (byte) (b.length >>> 8), (byte) (b.length >>> 16), 0});
    p.write(b);
  }

  private static void put(ZipOutputStream zip, String path, byte[] data) throws IOException {
    ZipEntry e = new ZipEntry(path);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    e.setCompressedSize(data.length);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setCrc(crc.getValue());
    zip.putNextEntry(e);
    zip.write(data);
    zip.closeEntry();
  }
}

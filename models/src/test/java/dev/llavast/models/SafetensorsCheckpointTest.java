package dev.llavast.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsCheckpointTest {
  @TempDir Path dir;

  @Test
  void halfAndBfloat16ConversionsMatchHandComputedBits() {
    assertThat(HalfFloats.floatToHalf(1f)).isEqualTo((short) 0x3C00);
    assertThat(HalfFloats.floatToHalf(-2f)).isEqualTo((short) 0xC000);
    assertThat(HalfFloats.floatToHalf(65504f)).isEqualTo((short) 0x7BFF);
    assertThat(HalfFloats.floatToHalf(65520f)).isEqualTo((short) 0x7C00); // rounds up to +inf
    assertThat(HalfFloats.floatToHalf(0x1p-24f)).isEqualTo((short) 0x0001); // smallest subnormal
    assertThat(HalfFloats.floatToHalf(1f + 0x1p-11f)).isEqualTo((short) 0x3C00); // tie -> even
    assertThat(HalfFloats.floatToHalf(1f + 3 * 0x1p-11f))
        .isEqualTo((short) 0x3C02); // tie -> even (up)
    assertThat(HalfFloats.halfToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
    assertThat(HalfFloats.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
    assertThat(HalfFloats.halfToFloat((short) 0xFC00)).isEqualTo(Float.NEGATIVE_INFINITY);
    // bf16 = the upper 16 bits of the float32
    assertThat(HalfFloats.floatToBf16(1f)).isEqualTo((short) 0x3F80);
    assertThat(HalfFloats.bf16ToFloat((short) 0x3F80)).isEqualTo(1f);
    assertThat(HalfFloats.bf16ToFloat((short) 0xC0A0)).isEqualTo(-5f);
    assertThat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F808000)))
        .isEqualTo((short) 0x3F80); // tie -> even
    assertThat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F818000)))
        .isEqualTo((short) 0x3F82); // tie -> even
    assertThat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F808001))).isEqualTo((short) 0x3F81);
    for (int h = 0; h < 0x7C00; h += 7) { // every 7th finite positive half round-trips exactly
      assertThat(HalfFloats.floatToHalf(HalfFloats.halfToFloat((short) h))).isEqualTo((short) h);
    }
  }

  private static float[] ramp(int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (i - n / 2) * scale;
    }
    return v;
  }

  @Test
  void roundTripF32F16Bf16WithHeaderLayoutAndOffsets() throws Exception {
    float[] a = ramp(6, 0.25f); // exact in all three formats
    float[] b = {1f, -2.5f, 0.1f, 3.14159f}; // 0.1 and pi round
    float[] c = {1f, -5f, 0.1f, 1000.5f, Float.intBitsToFloat(0x3F818000)};
    Path file = dir.resolve(Checkpoint.SINGLE_FILE);
    SafetensorsWriter.write(
        file,
        List.of(
            new SafetensorsWriter.Tensor("a", StoredDtype.F32, new long[] {2, 3}, a),
            new SafetensorsWriter.Tensor("b", StoredDtype.F16, new long[] {4}, b),
            new SafetensorsWriter.Tensor("c", StoredDtype.BF16, new long[] {5, 1}, c)),
        Map.of("format", "pt"));

    // the header as the format defines it: u64 LE length, JSON, padded to 8, offsets relative to
    // the data
    byte[] bytes = Files.readAllBytes(file);
    long headerLen = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(headerLen % 8).isZero();
    String header = new String(bytes, 8, (int) headerLen, java.nio.charset.StandardCharsets.UTF_8);
    assertThat(header)
        .contains("\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}")
        .contains("\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}")
        .contains("\"c\":{\"dtype\":\"BF16\",\"shape\":[5,1],\"data_offsets\":[32,42]}");
    assertThat(bytes.length).isEqualTo(8 + headerLen + 42);
    // element 1 of b is -2.5 = half 0xC100, little-endian at data offset 24 + 2
    int dataStart = (int) (8 + headerLen);
    assertThat(bytes[dataStart + 26]).isEqualTo((byte) 0x00);
    assertThat(bytes[dataStart + 27]).isEqualTo((byte) 0xC1);

    try (Checkpoint ck = Checkpoint.open(dir)) {
      assertThat(ck.names()).containsExactly("a", "b", "c");
      assertThat(ck.shape("a")).hasValue(new Shape(2, 3));
      assertThat(ck.dtype("c")).hasValue(StoredDtype.BF16);
      assertThat(ck.shape("zz")).isEmpty();
      assertThat(ck.readFloats("a")).containsExactly(a);
      assertThat(ck.readFloats("b")).containsExactly(1f, -2.5f, 0.0999755859375f, 3.140625f);
      // BF16: the upper 16 bits of the rounded float32
      assertThat(ck.readFloats("c"))
          .containsExactly(
              1f,
              -5f,
              Float.intBitsToFloat(0x3DCD0000),
              Float.intBitsToFloat(0x447A0000),
              Float.intBitsToFloat(0x3F820000));

      try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) {
        // "b" starts at data byte 24: the slice offset must be honoured by the native side
        NDArray bf = ck.load("b", m, DataType.FLOAT32);
        assertThat(bf.getShape()).isEqualTo(new Shape(4));
        assertThat(bf.toFloatArray()).containsExactly(1f, -2.5f, 0.0999755859375f, 3.140625f);
        NDArray bh = ck.load("b", m, DataType.FLOAT16);
        assertThat(bh.getDataType()).isEqualTo(DataType.FLOAT16);
        assertThat(bh.toType(DataType.FLOAT32, false).toFloatArray())
            .containsExactly(bf.toFloatArray());
        NDArray cf = ck.load("c", m, DataType.FLOAT32);
        assertThat(cf.getShape()).isEqualTo(new Shape(5, 1));
        assertThat(cf.toFloatArray()).containsExactly(ck.readFloats("c"));
        NDArray af = ck.load("a", m, DataType.FLOAT32);
        assertThat(af.toFloatArray()).containsExactly(a);
        assertThatThrownBy(() -> ck.load("a", m, DataType.BFLOAT16))
            .hasMessageContaining("can load as FLOAT32 or FLOAT16, not");
        assertThatThrownBy(() -> ck.load("nope", m, DataType.FLOAT32))
            .hasMessageContaining("tensor nope is not in");
      }
    }
  }

  @Test
  void chunkedLoadsOfLargerTensorsGiveTheSameValues() throws Exception {
    float[] big = ramp(40 * 33, 0.001f);
    SafetensorsWriter.write(
        dir.resolve(Checkpoint.SINGLE_FILE),
        List.of(
            new SafetensorsWriter.Tensor(
                "pad", StoredDtype.F16, new long[] {3}, new float[] {1, 2, 3}),
            new SafetensorsWriter.Tensor("w", StoredDtype.F32, new long[] {40, 33}, big),
            new SafetensorsWriter.Tensor("wb", StoredDtype.BF16, new long[] {40, 33}, big)),
        Map.of());
    // windows of 1000 bytes: 7 rows of 132 bytes per window, 6 windows for "w"
    try (Checkpoint ck = Checkpoint.open(dir, 1000);
        NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) {
      assertThat(ck.load("w", m, DataType.FLOAT32).toFloatArray()).containsExactly(big);
      assertThat(ck.readFloats("w")).containsExactly(big);
      float[] bb = ck.readFloats("wb");
      assertThat(ck.load("wb", m, DataType.FLOAT32).toFloatArray()).containsExactly(bb);
      for (int i = 0; i < big.length; i++) {
        assertThat(Float.floatToIntBits(bb[i]) & 0xFFFF).isZero();
        assertThat(bb[i])
            .isCloseTo(
                big[i], org.assertj.core.data.Offset.offset(Math.abs(big[i]) / 128 + 1e-30f));
      }
    }
  }

  @Test
  void malformedHeadersAreRejectedWithTheReason() throws Exception {
    Path file = dir.resolve(Checkpoint.SINGLE_FILE);
    byte[] json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}".getBytes();
    ByteBuffer buf = ByteBuffer.allocate(8 + json.length + 16).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(json.length).put(json);
    Files.write(file, buf.array());
    assertThatThrownBy(() -> Checkpoint.open(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("is F32 [4] = 16 bytes, but data_offsets span 12 bytes");
    buf.clear();
    buf.putLong(1L << 40);
    Files.write(file, buf.array());
    assertThatThrownBy(() -> Checkpoint.open(dir))
        .hasMessageContaining("header length 1099511627776 is invalid");
    Files.delete(file);
    assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("no model.safetensors or");
  }

  @Test
  void shardedCheckpointReadsTheIndexAndMatchesTheSingleFile() throws Exception {
    Path single = dir.resolve("single");
    Path sharded = dir.resolve("sharded");
    TinyCheckpoints.write(single, TinyCheckpoints.Preset.TINY, 11L);
    ModelConfig config =
        TinyCheckpoints.write(
            sharded,
            TinyCheckpoints.Preset.TINY,
            11L,
            new TinyCheckpoints.Options(StoredDtype.F32, 3, true));
    assertThat(sharded.resolve("model-00001-of-00003.safetensors")).exists();
    assertThat(sharded.resolve("model-00003-of-00003.safetensors")).exists();
    assertThat(sharded.resolve(Checkpoint.SINGLE_FILE)).doesNotExist();
    try (Checkpoint a = Checkpoint.open(single);
        Checkpoint b = Checkpoint.open(sharded)) {
      assertThat(b.names()).containsExactlyInAnyOrderElementsOf(a.names());
      b.validate(config);
      for (String n :
          List.of(
              CheckpointLayout.EMBED_TOKENS,
              CheckpointLayout.LM_HEAD,
              CheckpointLayout.packer(CheckpointLayout.PACKER_SLOW, "to_out.weight"),
              CheckpointLayout.WIDTH_OUTPUT)) {
        assertThat(b.readFloats(n)).containsExactly(a.readFloats(n));
      }
    }
    // an index entry whose shard lacks the tensor, and a missing shard: both reported at once
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode index =
        (com.fasterxml.jackson.databind.node.ObjectNode)
            json.readTree(sharded.resolve(Checkpoint.INDEX_FILE).toFile());
    com.fasterxml.jackson.databind.node.ObjectNode map =
        (com.fasterxml.jackson.databind.node.ObjectNode) index.get("weight_map");
    String lmShard = map.get(CheckpointLayout.LM_HEAD).asText();
    String otherShard =
        lmShard.equals("model-00001-of-00003.safetensors")
            ? "model-00002-of-00003.safetensors"
            : "model-00001-of-00003.safetensors";
    map.put(CheckpointLayout.FINAL_NORM, "model-00009-of-00009.safetensors");
    map.put(CheckpointLayout.LM_HEAD, otherShard);
    json.writeValue(sharded.resolve(Checkpoint.INDEX_FILE).toFile(), index);
    assertThatThrownBy(() -> Checkpoint.open(sharded))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(
            "shard model-00009-of-00009.safetensors (named by model.safetensors.index.json)"
                + " does not exist")
        .hasMessageContaining(
            "tensor lm_head.weight is listed in model.safetensors.index.json under "
                + otherShard
                + " but that shard does not contain it");
  }

  @Test
  void f16AndBf16TinyCheckpointsLoadCloseToTheF32One() throws Exception {
    TinyCheckpoints.write(dir.resolve("f32"), TinyCheckpoints.Preset.TINY, 5L);
    TinyCheckpoints.write(
        dir.resolve("f16"),
        TinyCheckpoints.Preset.TINY,
        5L,
        new TinyCheckpoints.Options(StoredDtype.F16, 2, false));
    ModelConfig bf =
        TinyCheckpoints.write(
            dir.resolve("bf16"),
            TinyCheckpoints.Preset.TINY,
            5L,
            new TinyCheckpoints.Options(StoredDtype.BF16, 1, false));
    assertThat(ModelConfigs.readDirectory(dir.resolve("bf16")).torchDtype()).isEqualTo("bfloat16");
    try (Checkpoint f = Checkpoint.open(dir.resolve("f32"));
        Checkpoint h = Checkpoint.open(dir.resolve("f16"));
        Checkpoint b = Checkpoint.open(dir.resolve("bf16"))) {
      h.validate(bf);
      b.validate(bf);
      assertThat(b.names()).doesNotContain(CheckpointLayout.IMAGE_NEWLINE);
      String n = CheckpointLayout.llmLayer(1, "mlp.down_proj.weight");
      float[] x = f.readFloats(n);
      float[] xh = h.readFloats(n);
      float[] xb = b.readFloats(n);
      for (int i = 0; i < x.length; i++) {
        assertThat(xh[i]).isEqualTo(HalfFloats.halfToFloat(HalfFloats.floatToHalf(x[i])));
        assertThat(xb[i]).isEqualTo(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(x[i])));
      }
    }
  }
}

package dev.llavast.models;

/**
 * Bit-exact conversions between float32 and the two 16-bit float formats (IEEE binary16 and
 * bfloat16). Java 17 has no {@code Float.float16ToFloat}. Stateless; any thread.
 */
final class HalfFloats {
  private HalfFloats() {}

  /**
   * bfloat16 bits to float32: a bf16 value is the upper 16 bits of the float32 with the same value.
   */
  static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xFFFF) << 16);
  }

  /** float32 to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
  static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    int rounding = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /** IEEE binary16 bits to float32 (exact: every half value is a float value). */
  static float halfToFloat(short half) {
    int h = half & 0xFFFF;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1F;
    int mant = h & 0x3FF;
    if (exp == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      // subnormal: mant * 2^-24
      float v = mant * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }

  /** float32 to IEEE binary16 bits, rounding to nearest even, overflow to infinity. */
  static short floatToHalf(float value) {
    int bits = Float.floatToRawIntBits(value);
    int sign = (bits >>> 16) & 0x8000;
    int exp = (bits >>> 23) & 0xFF;
    int mant = bits & 0x7FFFFF;
    if (exp == 0xFF) {
      return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
    }
    int e = exp - 127 + 15;
    if (e >= 0x1F) {
      return (short) (sign | 0x7C00);
    }
    if (e <= 0) {
      if (e < -10) {
        return (short) sign; // rounds to zero
      }
      int m = mant | 0x800000; // implicit bit
      int shift = 14 - e; // 14..24
      int halfMant = m >>> shift;
      int rem = m & ((1 << shift) - 1);
      int halfway = 1 << (shift - 1);
      if (rem > halfway || (rem == halfway && (halfMant & 1) != 0)) {
        halfMant++;
      }
      return (short) (sign | halfMant); // a carry into the exponent field is the correct result
    }
    int halfMant = mant >>> 13;
    int rem = mant & 0x1FFF;
    int result = sign | (e << 10) | halfMant;
    if (rem > 0x1000 || (rem == 0x1000 && (halfMant & 1) != 0)) {
      result++; // may carry into the exponent, up to infinity: correct rounding
    }
    return (short) result;
  }
}

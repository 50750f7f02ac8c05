/**
 * F16 and BF16 "quantization": each float32 becomes one 16-bit value, written
 * little-endian, bit for bit as what `ggml_quantize_chunk` runs for these types:
 * `ggml_fp32_to_fp16_row` (ggml's `GGML_FP32_TO_FP16`) and `ggml_fp32_to_bf16_row_ref`
 * (`ggml_compute_fp32_to_bf16`, never the AVX-512 path that flushes subnormals).
 *
 * The values are read as bit patterns through a `Uint32Array` view of `src`, so a NaN's
 * sign and payload reach the conversion exactly on every engine:
 * - F16 rounds to nearest, ties to even, with subnormal halfs, ±Inf from 65,520 up, and
 *   every NaN `0x7E00` with its sign (see `_fp32_to_fp16.ts`);
 * - BF16 keeps the high 16 bits rounded to nearest, ties to even (a carry can reach Inf),
 *   subnormals included; a NaN keeps its sign and high payload bits with the quiet bit
 *   (0x40) set.
 *
 * @module
 */
import { fp32BitsToFp16 } from "./_fp32_to_fp16.ts";

function bitsOf(src: Float32Array, count: number): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, count);
}

/**
 * Converts `count` float32 values from `src` to IEEE halfs at the start of `dst`
 * (2 bytes each, little-endian), as ggml's `ggml_fp32_to_fp16_row`. Checks nothing.
 *
 * @param src The values: at least `count`.
 * @param dst Where the halfs go: at least `count × 2` bytes.
 * @param count How many values (F16's block is one value).
 *
 * @example
 * ```ts
 * import { quantizeRowF16 } from "./float.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(6);
 * quantizeRowF16(Float32Array.of(1, -2, 65520), dst, 3);
 * assert.deepEqual([...dst], [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c]);
 * ```
 */
export function quantizeRowF16(src: Float32Array, dst: Uint8Array, count: number): void {
  const bits = bitsOf(src, count);
  for (let i = 0, o = 0; i < count; i++, o += 2) {
    const half = fp32BitsToFp16(bits[i]);
    dst[o] = half & 0xff;
    dst[o + 1] = half >> 8;
  }
}

/**
 * Converts `count` float32 values from `src` to bfloat16 at the start of `dst` (2 bytes
 * each, little-endian), as ggml's `ggml_fp32_to_bf16_row_ref`. Checks nothing.
 *
 * @param src The values: at least `count`.
 * @param dst Where the values go: at least `count × 2` bytes.
 * @param count How many values (BF16's block is one value).
 *
 * @example
 * ```ts
 * import { quantizeRowBf16 } from "./float.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(4);
 * quantizeRowBf16(Float32Array.of(1, -1 / 3), dst, 2);
 * assert.deepEqual([...dst], [0x80, 0x3f, 0xab, 0xbe]);
 * ```
 */
export function quantizeRowBf16(src: Float32Array, dst: Uint8Array, count: number): void {
  const bits = bitsOf(src, count);
  for (let i = 0, o = 0; i < count; i++, o += 2) {
    const w = bits[i];
    let h: number;
    if ((w & 0x7fffffff) > 0x7f800000) {
      h = (w >>> 16) | 0x40; // NaN: forced quiet
    } else {
      // Round to nearest, ties to even, in 32-bit unsigned arithmetic as C's.
      h = ((w + 0x7fff + ((w >>> 16) & 1)) >>> 16) & 0xffff;
    }
    dst[o] = h & 0xff;
    dst[o + 1] = h >> 8;
  }
}

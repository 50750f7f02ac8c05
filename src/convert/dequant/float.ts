/**
 * Kernels for the plain float types: F32 (a copy), F16 and BF16 (exact widening).
 * They write bit patterns through a `Uint32Array` view of the output, so NaN payloads
 * survive exactly on every engine.
 *
 * @module
 */
import { FP16_BITS } from "./_fp16.ts";

function bitsView(dst: Float32Array, count: number): Uint32Array {
  return new Uint32Array(dst.buffer, dst.byteOffset, count);
}

/** Copies `count` float32 values (little- or big-endian) into `dst`. */
export function dequantizeRowF32(
  src: Uint8Array,
  dst: Float32Array,
  count: number,
  littleEndian: boolean,
): void {
  if (littleEndian) {
    new Uint8Array(dst.buffer, dst.byteOffset, count * 4).set(src.subarray(0, count * 4));
    return;
  }
  const out = bitsView(dst, count);
  for (let i = 0, o = 0; i < count; i++, o += 4) {
    out[i] = ((src[o] << 24) | (src[o + 1] << 16) | (src[o + 2] << 8) | src[o + 3]) >>> 0;
  }
}

/** Widens `count` IEEE halfs to float32, exactly as ggml's `ggml_fp16_to_fp32`. */
export function dequantizeRowF16(
  src: Uint8Array,
  dst: Float32Array,
  count: number,
  littleEndian: boolean,
): void {
  const out = bitsView(dst, count);
  if (littleEndian && src.byteOffset % 2 === 0) {
    const halfs = new Uint16Array(src.buffer, src.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = FP16_BITS[halfs[i]];
    return;
  }
  const lo = littleEndian ? 0 : 1;
  const hi = 1 - lo;
  for (let i = 0, o = 0; i < count; i++, o += 2) {
    out[i] = FP16_BITS[src[o + lo] | (src[o + hi] << 8)];
  }
}

/** Widens `count` bfloat16 values to float32 (the 16 bits become the high half). */
export function dequantizeRowBf16(
  src: Uint8Array,
  dst: Float32Array,
  count: number,
  littleEndian: boolean,
): void {
  const out = bitsView(dst, count);
  if (littleEndian && src.byteOffset % 2 === 0) {
    const halfs = new Uint16Array(src.buffer, src.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = halfs[i] * 65536;
    return;
  }
  const lo = littleEndian ? 0 : 1;
  const hi = 1 - lo;
  for (let i = 0, o = 0; i < count; i++, o += 2) {
    out[i] = ((src[o + hi] << 24) | (src[o + lo] << 16)) >>> 0;
  }
}

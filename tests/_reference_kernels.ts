/**
 * Straightforward dequantization kernels, one loop per formula as in ggml's
 * `dequantize_row_*`: the simple code the optimized kernels in `src/convert/dequant/`
 * replaced, kept here only as the reference they are tested against
 * (`kernel_speed_equivalence_test.ts`). Each was verified against ggml's fixtures before
 * it was retired; they read bytes one at a time and favour clarity over speed.
 *
 * @module
 */
import { FP16_TO_F32 } from "../src/convert/dequant/_fp16.ts";

/** A reference kernel: `blocks` whole blocks from `src` into float32 values in `dst`. */
export type ReferenceKernel = (src: Uint8Array, dst: Float32Array, blocks: number) => void;

function half(src: Uint8Array, at: number): number {
  return FP16_TO_F32[src[at] | (src[at + 1] << 8)];
}

/** Q4_0: 18-byte blocks of 32; w = (q − 8) × d. */
export function referenceQ4_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 18, y += 32) {
    const d = half(src, s);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      dst[y + j] = ((q & 0x0f) - 8) * d;
      dst[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/** Q4_1: 20-byte blocks of 32; w = q × d + m. */
export function referenceQ4_1(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 20, y += 32) {
    const d = half(src, s);
    const m = half(src, s + 2);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 4 + j];
      dst[y + j] = (q & 0x0f) * d + m;
      dst[y + j + 16] = (q >> 4) * d + m;
    }
  }
}

/** Q5_0: 22-byte blocks of 32; w = (q − 16) × d. */
export function referenceQ5_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 22, y += 32) {
    const d = half(src, s);
    const qh = src[s + 2] | (src[s + 3] << 8) | (src[s + 4] << 16) | (src[s + 5] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 6 + j];
      const high0 = ((qh >>> j) << 4) & 0x10;
      const high1 = (qh >>> (j + 12)) & 0x10;
      dst[y + j] = (((q & 0x0f) | high0) - 16) * d;
      dst[y + j + 16] = (((q >> 4) | high1) - 16) * d;
    }
  }
}

/** Q5_1: 24-byte blocks of 32; w = q × d + m. */
export function referenceQ5_1(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 24, y += 32) {
    const d = half(src, s);
    const m = half(src, s + 2);
    const qh = src[s + 4] | (src[s + 5] << 8) | (src[s + 6] << 16) | (src[s + 7] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 8 + j];
      const high0 = ((qh >>> j) << 4) & 0x10;
      const high1 = (qh >>> (j + 12)) & 0x10;
      dst[y + j] = ((q & 0x0f) | high0) * d + m;
      dst[y + j + 16] = ((q >> 4) | high1) * d + m;
    }
  }
}

/** Q8_0: 34-byte blocks of 32; w = q × d. */
export function referenceQ8_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 34, y += 32) {
    const d = half(src, s);
    for (let j = 0; j < 32; j++) {
      dst[y + j] = ((src[s + 2 + j] << 24) >> 24) * d;
    }
  }
}

/** Q2_K: 84-byte super-blocks of 256; w = d·scale × q − dmin·min per 16 weights. */
export function referenceQ2K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 84) {
    const d = half(src, s + 80);
    const dmin = half(src, s + 82);
    let scaleIndex = s;
    for (let h = 0; h < 2; h++) {
      const q = s + 16 + h * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let part = 0; part < 32; part += 16) {
          const sc = src[scaleIndex++];
          const dl = d * (sc & 0x0f);
          const ml = dmin * (sc >> 4);
          const at = q + part;
          for (let l = 0; l < 16; l++) dst[y++] = dl * ((src[at + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

/** Q3_K: 110-byte super-blocks of 256; w = d·(scale − 32) × (q − 4·(high bit clear)). */
export function referenceQ3K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  const scales = new Int8Array(16);
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 110) {
    const d = half(src, s + 108);
    for (let i = 0; i < 16; i++) {
      const at = s + 96;
      const low = i < 8 ? src[at + i] & 0x0f : src[at + i - 8] >> 4;
      const high = (src[at + 8 + (i & 3)] >> (2 * (i >> 2))) & 3;
      scales[i] = low | (high << 4);
    }
    let scaleIndex = 0;
    let bit = 0;
    for (let h = 0; h < 2; h++) {
      const q = s + 32 + h * 32;
      for (let shift = 0; shift < 8; shift += 2, bit++) {
        for (let part = 0; part < 32; part += 16) {
          const dl = d * (scales[scaleIndex++] - 32);
          const low = q + part;
          const high = s + part;
          for (let l = 0; l < 16; l++) {
            const value = ((src[low + l] >> shift) & 3) + ((((src[high + l] >> bit) & 1) - 1) << 2);
            dst[y++] = dl * value;
          }
        }
      }
    }
  }
}

/** The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K block, as ggml's `get_scale_min_k4`. */
function unpackKScaleMin(src: Uint8Array, at: number, scales: Uint8Array, mins: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    scales[j] = src[at + j] & 63;
    mins[j] = src[at + j + 4] & 63;
  }
  for (let j = 4; j < 8; j++) {
    scales[j] = (src[at + j + 4] & 0x0f) | ((src[at + j - 4] >> 6) << 4);
    mins[j] = (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4);
  }
}

/** Q4_K: 144-byte super-blocks of 256; w = d·scale × q − dmin·min per 32 weights. */
export function referenceQ4K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  const scales = new Uint8Array(8);
  const mins = new Uint8Array(8);
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 144) {
    const d = half(src, s);
    const dmin = half(src, s + 2);
    unpackKScaleMin(src, s + 4, scales, mins);
    for (let group = 0; group < 4; group++) {
      const q = s + 16 + group * 32;
      const d1 = d * scales[2 * group];
      const m1 = dmin * mins[2 * group];
      const d2 = d * scales[2 * group + 1];
      const m2 = dmin * mins[2 * group + 1];
      for (let l = 0; l < 32; l++) {
        const byte = src[q + l];
        dst[y + l] = d1 * (byte & 0x0f) - m1;
        dst[y + 32 + l] = d2 * (byte >> 4) - m2;
      }
      y += 64;
    }
  }
}

/** Q5_K: 176-byte super-blocks of 256; w = d·scale × q − dmin·min per 32 weights. */
export function referenceQ5K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  const scales = new Uint8Array(8);
  const mins = new Uint8Array(8);
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 176) {
    const d = half(src, s);
    const dmin = half(src, s + 2);
    unpackKScaleMin(src, s + 4, scales, mins);
    const qh = s + 16;
    for (let group = 0; group < 4; group++) {
      const ql = s + 48 + group * 32;
      const shift1 = 2 * group;
      const shift2 = shift1 + 1;
      const d1 = d * scales[2 * group];
      const m1 = dmin * mins[2 * group];
      const d2 = d * scales[2 * group + 1];
      const m2 = dmin * mins[2 * group + 1];
      for (let l = 0; l < 32; l++) {
        const low = src[ql + l];
        const high = src[qh + l];
        dst[y + l] = d1 * ((low & 0x0f) | (((high >> shift1) & 1) << 4)) - m1;
        dst[y + 32 + l] = d2 * ((low >> 4) | (((high >> shift2) & 1) << 4)) - m2;
      }
      y += 64;
    }
  }
}

/** Q6_K: 210-byte super-blocks of 256; w = d × scale × (q − 32), left to right. */
export function referenceQ6K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += 210) {
    const d = half(src, s + 208);
    for (let h = 0; h < 2; h++) {
      const ql = s + h * 64;
      const qh = s + 128 + h * 32;
      const sc = s + 192 + h * 8;
      for (let is = 0; is < 2; is++) {
        const d1 = d * ((src[sc + is] << 24) >> 24);
        const d2 = d * ((src[sc + is + 2] << 24) >> 24);
        const d3 = d * ((src[sc + is + 4] << 24) >> 24);
        const d4 = d * ((src[sc + is + 6] << 24) >> 24);
        for (let l = is * 16, end = l + 16; l < end; l++) {
          const low0 = src[ql + l];
          const low1 = src[ql + l + 32];
          const high = src[qh + l];
          dst[y + l] = d1 * (((low0 & 0x0f) | ((high & 3) << 4)) - 32);
          dst[y + l + 32] = d2 * (((low1 & 0x0f) | (((high >> 2) & 3) << 4)) - 32);
          dst[y + l + 64] = d3 * (((low0 >> 4) | (((high >> 4) & 3) << 4)) - 32);
          dst[y + l + 96] = d4 * (((low1 >> 4) | (((high >> 6) & 3) << 4)) - 32);
        }
      }
      y += 128;
    }
  }
}

/** The reference kernel of each type the optimized kernels cover, by ggml type name. */
export const REFERENCE_KERNELS: Record<string, ReferenceKernel> = {
  Q4_0: referenceQ4_0,
  Q4_1: referenceQ4_1,
  Q5_0: referenceQ5_0,
  Q5_1: referenceQ5_1,
  Q8_0: referenceQ8_0,
  Q2_K: referenceQ2K,
  Q3_K: referenceQ3K,
  Q4_K: referenceQ4K,
  Q5_K: referenceQ5K,
  Q6_K: referenceQ6K,
};

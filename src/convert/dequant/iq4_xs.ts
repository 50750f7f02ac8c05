/**
 * IQ4_XS: super-blocks of 256 weights, 136 bytes: half `d`, a u16 of high scale bits,
 * 4 bytes of low scale nibbles, 128 bytes of 4-bit indices into IQ4_NL's table.
 * w = d·(scale − 32) × table[q].
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { IQ4_VALUES } from "./_iq4_values.ts";

/** Bytes per IQ4_XS super-block. */
export const BLOCK_IQ4_XS_BYTES = 136;

/** Dequantizes `blocks` IQ4_XS super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq4_xs`. */
export function dequantizeRowIq4Xs(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ4_XS_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const scalesHigh = src[s + 2] | (src[s + 3] << 8);
    for (let group = 0; group < 8; group++) {
      const low = (src[s + 4 + (group >> 1)] >> (4 * (group & 1))) & 0x0f;
      const scale = low | (((scalesHigh >> (2 * group)) & 3) << 4);
      const dl = d * (scale - 32); // exact in float32 (17 bits)
      const qs = s + 8 + group * 16;
      for (let j = 0; j < 16; j++) {
        const q = src[qs + j];
        dst[y + j] = dl * IQ4_VALUES[q & 0x0f];
        dst[y + j + 16] = dl * IQ4_VALUES[q >> 4];
      }
      y += 32;
    }
  }
}

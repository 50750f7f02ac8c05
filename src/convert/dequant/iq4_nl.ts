/**
 * IQ4_NL: blocks of 32 weights, 18 bytes: half scale `d`, 16 bytes of 4-bit indices
 * into a fixed non-linear table. w = d × table[q].
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { IQ4_VALUES } from "./_iq4_values.ts";

/** Bytes per IQ4_NL block. */
export const BLOCK_IQ4_NL_BYTES = 18;

/** Dequantizes `blocks` IQ4_NL blocks from `src` into `dst`, as ggml's `dequantize_row_iq4_nl`. */
export function dequantizeRowIq4Nl(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ4_NL_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      dst[y + j] = d * IQ4_VALUES[q & 0x0f];
      dst[y + j + 16] = d * IQ4_VALUES[q >> 4];
    }
  }
}

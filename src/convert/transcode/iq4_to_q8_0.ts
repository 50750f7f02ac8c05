/**
 * Transcoders from the non-linear 4-bit types into Q8_0. Their 16 levels
 * (`kvalues_iq4nl`, −127 … 113) are signed bytes already, so each level is a Q8_0 code.
 *
 * - IQ4_NL (32 values, `d × level`): lossless — the same half `d` (copied bit for bit)
 *   and the levels as codes; both `to_float`s compute `d × level` in float32 from the same
 *   operands.
 * - IQ4_XS (256 values, 32-value groups `d·(ls − 32) × level` with a 6-bit ls): the group
 *   scale d·(ls − 32) has up to 17 significant bits, so it is rounded once to a half
 *   unless it fits one (the levels, up to 127, leave no room to move a factor into the
 *   codes). See `writeQ8_0Block()` for the bound and for scales past ±65504.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { IQ4_VALUES } from "../dequant/_iq4_values.ts";
import { BLOCK_CODES, writeQ8_0Block } from "./_block_scale.ts";
import { nibbleSquares, nibblesToQ8_0 } from "./_nibbles_to_q8_0.ts";

/** Transcodes `blocks` IQ4_NL blocks (18 bytes) into as many Q8_0 blocks (34 bytes). */
export const transcodeIq4NlToQ8_0: (src: Uint8Array, dst: Uint8Array, blocks: number) => void =
  nibblesToQ8_0(IQ4_VALUES);

/** `sum` plus Σx² over the finite values of `blocks` IQ4_NL blocks (see `nibbleSquares`). */
export const squaresIq4Nl: (src: Uint8Array, blocks: number, sum: number) => number = nibbleSquares(
  IQ4_VALUES,
);

/** Transcodes `blocks` IQ4_XS blocks (136 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeIq4XsToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  const codes = BLOCK_CODES;
  const values = IQ4_VALUES;
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 136) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const scalesHigh = src[s + 2] | (src[s + 3] << 8);
    for (let ib = 0; ib < 8; ib++, o += 34) {
      const ls = ((src[s + 4 + (ib >> 1)] >> (4 * (ib & 1))) & 15) |
        (((scalesHigh >> (2 * ib)) & 3) << 4);
      const q = s + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        codes[j] = values[src[q + j] & 15];
        codes[j + 16] = values[src[q + j] >> 4];
      }
      writeQ8_0Block(dst, o, d, ls - 32, 1);
    }
  }
}

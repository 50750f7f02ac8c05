/**
 * Random but valid quantized blocks for benchmarks: random quant bits, half-precision
 * scales in a realistic range (2^-12 .. 2^-12 + 2^-8), as a real model's would be.
 */
import { ggmlType, type GgmlTypeTraits } from "../mod.ts";

/** Byte offsets of the half-precision scales in one block, per type. */
const HALF_OFFSETS: Record<string, number[]> = {
  Q4_0: [0],
  Q4_1: [0, 2],
  Q5_0: [0],
  Q5_1: [0, 2],
  Q8_0: [0],
  Q2_K: [80, 82],
  Q3_K: [108],
  Q4_K: [0, 2],
  Q5_K: [0, 2],
  Q6_K: [208],
  IQ4_NL: [0],
  IQ4_XS: [0],
  IQ2_XXS: [0],
  IQ2_XS: [0],
  IQ2_S: [0],
  IQ3_XXS: [0],
  IQ3_S: [0],
  IQ1_S: [0],
  TQ1_0: [52],
  TQ2_0: [64],
  Q1_0: [0],
  Q2_0: [0],
  F16: [0],
};

/** Scales that are not a plain half at a fixed offset: set them to realistic values. */
const SPECIAL_SCALES: Record<string, (block: Uint8Array, at: number, half: number) => void> = {
  // An E8M0 exponent byte: 2^(e - 127), here about 2^-8.
  MXFP4: (block, at) => void (block[at] = 119),
  // Four UE4M3 sub-block scales (0x30 = 0.5).
  NVFP4: (block, at) => block.fill(0x30, at, at + 4),
  // The half is spread over the top nibbles of the four 16-bit scale words at byte 48.
  IQ1_M: (block, at, half) => {
    for (let i = 0; i < 4; i++) {
      const byte = at + 48 + 2 * i + 1;
      block[byte] = (block[byte] & 0x0f) | (((half >> (4 * i)) & 0x0f) << 4);
    }
  },
  BF16: (block, at) => {
    block[at + 1] = 0x3c + (block[at + 1] & 1); // around 2^-7, sign positive
  },
};

/** A small deterministic generator (xorshift32). */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = (seed * 2654435761) % 4294967296 || 1;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }
  uniform(): number {
    return this.next() / 4294967296;
  }
}

/** The half-precision bits of a positive normal value (round to nearest). */
export function halfBits(x: number): number {
  let exponent = Math.floor(Math.log2(x));
  let mantissa = Math.round((x / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  return ((exponent + 15) << 10) | mantissa;
}

/** Fills `out` (whole blocks of `traits`) with random blocks; F32 gets values near 1. */
export function fillRandomBlocks(out: Uint8Array, traits: GgmlTypeTraits, random: Random): void {
  if (traits.name === "F32") {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i + 4 <= out.length; i += 4) {
      view.setFloat32(i, 0.8 + 0.4 * random.uniform(), true);
    }
    return;
  }
  for (let i = 0; i < out.length; i++) out[i] = random.next() & 0xff;
  const offsets = HALF_OFFSETS[traits.name] ?? [];
  const special = SPECIAL_SCALES[traits.name];
  for (let at = 0; at + traits.bytesPerBlock <= out.length; at += traits.bytesPerBlock) {
    for (const offset of offsets) {
      const h = halfBits(2 ** -12 + random.uniform() * 2 ** -8);
      out[at + offset] = h & 0xff;
      out[at + offset + 1] = h >> 8;
    }
    special?.(out, at, halfBits(2 ** -12 + random.uniform() * 2 ** -8));
  }
}

/** `count` weights of random blocks of the named type. */
export function randomBlocks(type: string, count: number, seed = 1): Uint8Array {
  const traits = ggmlType(type)!;
  const out = new Uint8Array((count / traits.blockSize) * traits.bytesPerBlock);
  fillRandomBlocks(out, traits, new Random(seed));
  return out;
}

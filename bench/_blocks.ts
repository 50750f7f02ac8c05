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
  F16: [0],
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
  for (let at = 0; at + traits.bytesPerBlock <= out.length; at += traits.bytesPerBlock) {
    for (const offset of offsets) {
      const h = halfBits(2 ** -12 + random.uniform() * 2 ** -8);
      out[at + offset] = h & 0xff;
      out[at + offset + 1] = h >> 8;
    }
  }
}

/** `count` weights of random blocks of the named type. */
export function randomBlocks(type: string, count: number, seed = 1): Uint8Array {
  const traits = ggmlType(type)!;
  const out = new Uint8Array((count / traits.blockSize) * traits.bytesPerBlock);
  fillRandomBlocks(out, traits, new Random(seed));
  return out;
}

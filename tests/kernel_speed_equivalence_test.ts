/**
 * The optimized dequantization kernels against the straightforward ones they replaced
 * (`_reference_kernels.ts`), on a few MiB of random blocks per type whose half-precision
 * scales include the edges: zeros of both signs, subnormals, the largest normal,
 * infinities and NaNs. Outputs must be the same float32 bits, compared as Uint32, with
 * one allowance: where both are NaN, the payload and sign may differ. Neither engine
 * keeps them: V8 and JavaScriptCore may swap the operands of a commutative `+` or `*`
 * (x86 returns the first operand's NaN when both are NaN, so Inf × 0 + NaN can give
 * either), and JavaScriptCore replaces every NaN by the canonical one when it boxes a
 * double in its lower tiers, so the payload depends on how far the kernel was compiled.
 * (ggml's C does not pin them down either: the result depends on the compiler's operand
 * order and on FMA contraction.) The SIMD kernels (WebAssembly) are held to the same
 * reference; 3 MiB of blocks span many of their 32 Ki-weight pieces and end mid-piece.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ggmlType } from "../mod.ts";
import { dequantizeRowQ2K } from "../src/convert/dequant/q2_k.ts";
import { dequantizeRowQ3K } from "../src/convert/dequant/q3_k.ts";
import { dequantizeRowQ4_0 } from "../src/convert/dequant/q4_0.ts";
import { dequantizeRowQ4_1 } from "../src/convert/dequant/q4_1.ts";
import { dequantizeRowQ4K } from "../src/convert/dequant/q4_k.ts";
import { dequantizeRowQ5_0 } from "../src/convert/dequant/q5_0.ts";
import { dequantizeRowQ5_1 } from "../src/convert/dequant/q5_1.ts";
import { dequantizeRowQ5K } from "../src/convert/dequant/q5_k.ts";
import { dequantizeRowQ6K } from "../src/convert/dequant/q6_k.ts";
import { dequantizeRowQ8_0 } from "../src/convert/dequant/q8_0.ts";
import { hasSimdKernel, simdKernel } from "../src/convert/simd/simd_kernels.ts";
import { REFERENCE_KERNELS, type ReferenceKernel } from "./_reference_kernels.ts";
import { randomBlocks } from "./_random_blocks.ts";

interface Case {
  type: string;
  kernel: ReferenceKernel;
  /** Byte offsets of the half-precision scales in a block. */
  halves: number[];
}

const PORTABLE: Case[] = [
  { type: "Q4_0", kernel: dequantizeRowQ4_0, halves: [0] },
  { type: "Q4_1", kernel: dequantizeRowQ4_1, halves: [0, 2] },
  { type: "Q5_0", kernel: dequantizeRowQ5_0, halves: [0] },
  { type: "Q5_1", kernel: dequantizeRowQ5_1, halves: [0, 2] },
  { type: "Q8_0", kernel: dequantizeRowQ8_0, halves: [0] },
  { type: "Q2_K", kernel: dequantizeRowQ2K, halves: [80, 82] },
  { type: "Q3_K", kernel: dequantizeRowQ3K, halves: [108] },
  { type: "Q4_K", kernel: dequantizeRowQ4K, halves: [0, 2] },
  { type: "Q5_K", kernel: dequantizeRowQ5K, halves: [0, 2] },
  { type: "Q6_K", kernel: dequantizeRowQ6K, halves: [208] },
];

/** The SIMD kernels (WebAssembly), which every runtime tested here can run. */
const SIMD: Case[] = PORTABLE.filter((c) => hasSimdKernel(ggmlType(c.type)!.id)).map((c) => {
  const kernel = simdKernel(ggmlType(c.type)!.id);
  assert.ok(kernel !== undefined, `${c.type}: no SIMD kernel in this runtime`);
  return { ...c, label: `${c.type}'s SIMD kernel`, kernel };
});

const CASES: (Case & { label?: string })[] = [...PORTABLE, ...SIMD];

/** Bytes of random blocks per type. */
const BYTES = 3 << 20;

/** Whether float32 bits `x` are a NaN. */
function isNaNBits(x: number): boolean {
  return (x & 0x7fffffff) > 0x7f800000;
}

/**
 * The first index where the float32 bits of `actual` and `expected` differ (other than
 * two NaNs), or −1; counts the NaNs seen in `nans[0]`.
 */
function firstDifference(actual: Float32Array, expected: Float32Array, nans = [0]): number {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === e[i]) continue;
    if (isNaNBits(a[i]) && isNaNBits(e[i])) {
      nans[0]++;
      continue;
    }
    return i;
  }
  return -1;
}

function hex(bits: number): string {
  return "0x" + bits.toString(16).padStart(8, "0");
}

for (const { type, kernel, halves, label = `${type}'s optimized kernel` } of CASES) {
  test(`${label} gives the reference kernel's float32 bits on random blocks with edge scales`, () => {
    const { blockSize, bytesPerBlock } = ggmlType(type)!;
    const reference = REFERENCE_KERNELS[type];
    const src = randomBlocks(bytesPerBlock, halves, {
      bytes: BYTES,
      seed: 0x9e3779b9 ^ bytesPerBlock,
    });
    const blocks = src.length / bytesPerBlock;
    const expected = new Float32Array(blocks * blockSize);
    reference(src, expected, blocks);
    const expectedBits = new Uint32Array(expected.buffer);
    let finite = 0;
    let nanCount = 0;
    for (const x of expectedBits) {
      if ((x & 0x7f800000) !== 0x7f800000) finite++;
      else if (isNaNBits(x)) nanCount++;
    }
    // The edge scales must show up: infinite and NaN weights as well as finite ones.
    assert.ok(finite > expected.length / 2, `${type}: ${finite} finite weights`);
    assert.ok(nanCount > 0 && nanCount + finite < expected.length, `${type}: no NaN or Inf`);
    // Several calls so the optimizing compilers see the kernel, each on the whole input.
    for (let run = 0; run < 3; run++) {
      const actual = new Float32Array(blocks * blockSize).fill(run);
      kernel(src, actual, blocks);
      const at = firstDifference(actual, expected);
      if (at >= 0) {
        const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length)[at];
        assert.fail(
          `${type}: weight ${at} (block ${Math.floor(at / blockSize)}) is ${
            hex(bits(actual))
          }, the reference gives ${hex(bits(expected))} (run ${run})`,
        );
      }
    }
  });

  test(`${label} reads any byte offset and a few blocks alike`, () => {
    const { blockSize, bytesPerBlock } = ggmlType(type)!;
    const reference = REFERENCE_KERNELS[type];
    const whole = randomBlocks(bytesPerBlock, halves, { bytes: BYTES, seed: 7 * bytesPerBlock })
      .subarray(0, 9 * bytesPerBlock);
    for (const offset of [1, 2, 3]) {
      const backing = new Uint8Array(whole.length + offset);
      backing.set(whole, offset);
      const src = backing.subarray(offset);
      for (const blocks of [1, 2, 9]) {
        const expected = new Float32Array(blocks * blockSize);
        reference(whole, expected, blocks);
        const out = new Float32Array(blocks * blockSize + 1).fill(-1);
        const actual = out.subarray(1);
        kernel(src, actual, blocks);
        assert.equal(firstDifference(actual, expected), -1, `${type}, offset ${offset}`);
        assert.equal(out[0], -1, `${type} wrote before its output`);
      }
    }
  });
}

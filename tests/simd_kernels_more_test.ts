/**
 * The SIMD dequantizers of Q2_K, Q3_K, the IQ types, TQ, MXFP4, NVFP4, Q1_0 and Q2_0 against
 * the portable kernels (which give ggml's bits on every fixture tensor: simd_kernels_test.ts
 * checks both against the fixtures), on random blocks whose scales include the edges: zeros
 * of both signs, subnormal halves, the largest normal, infinities and NaNs (and every byte
 * scale of MXFP4 and NVFP4). Blocks start at odd byte offsets; values go into an ordinary
 * array and, in place, into a buffer of the module's own memory. Outputs must be the same float32 bits,
 * two NaNs excepted (see kernel_speed_equivalence_test.ts for why their payloads differ).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ggmlType } from "../mod.ts";
import { dequantizerOf } from "../src/convert/kernels.ts";
import { simdKernel, simdOutputBuffer } from "../src/convert/simd/simd_kernels.ts";
import { randomBlocks } from "./_random_blocks.ts";

/** Each type, with the byte offsets of the half-precision scales in its blocks. */
const CASES: [string, number[]][] = [
  ["Q2_K", [80, 82]],
  ["Q3_K", [108]],
  ["IQ4_NL", [0]],
  ["IQ4_XS", [0]],
  ["TQ1_0", [52]],
  ["TQ2_0", [64]],
  ["Q1_0", [0]],
  ["Q2_0", [0]],
  ["IQ2_XXS", [0]],
  ["IQ2_XS", [0]],
  ["IQ2_S", [0]],
  ["IQ3_XXS", [0]],
  ["IQ3_S", [0]],
  ["IQ1_S", [0]],
  // Its half is spread over the top nibbles of 4 scale words: random, every exponent.
  ["IQ1_M", []],
  // Their scales are bytes (E8M0, UE4M3), and random bytes take all 256 values.
  ["MXFP4", []],
  ["NVFP4", []],
];

/** Bytes of random blocks per type: spans many of the kernels' 32 Ki-weight pieces. */
const BYTES = 1 << 18;

/** Random blocks (xorshift32, so every run sees the same) at byte offset `offset`. */

/** The first index where the float32 bits differ (two NaNs excepted), or −1. */
function firstDifference(actual: Float32Array, expected: Float32Array): number {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) return i;
  }
  return -1;
}

for (const [type, halves] of CASES) {
  test(`${type}'s SIMD kernel gives the portable kernel's bits on edge-scale blocks at any offset`, () => {
    const { id, blockSize, bytesPerBlock } = ggmlType(type)!;
    const kernel = simdKernel(id);
    assert.ok(kernel !== undefined, `${type}: no SIMD kernel in this runtime`);
    const portable = dequantizerOf(id)!.portable;
    for (const offset of [1, 3]) {
      const src = randomBlocks(bytesPerBlock, halves, {
        bytes: BYTES,
        seed: 0x9e3779b9 ^ bytesPerBlock,
        offset,
      });
      const blocks = src.length / bytesPerBlock;
      const expected = new Float32Array(blocks * blockSize);
      portable(src, expected, blocks, true);
      // The edges show up: NaNs from the halves; the smallest and largest byte scales.
      let nan = 0;
      let finite = 0;
      let smallest = Infinity;
      let largest = 0;
      for (const x of expected) {
        if (Number.isNaN(x)) nan++;
        else if (Number.isFinite(x)) finite++;
        if (x !== 0 && Math.abs(x) < smallest) smallest = Math.abs(x);
        if (Math.abs(x) > largest) largest = Math.abs(x);
      }
      assert.ok(finite > expected.length / 2, `${type}: ${finite} finite weights`);
      // MXFP4's largest, 12·2^127, overflows float32 (in C as well).
      if (type === "MXFP4") assert.deepEqual([smallest, largest], [2 ** -128, Infinity]);
      else if (type === "NVFP4") assert.deepEqual([smallest, largest], [2 ** -10, 12 * 240]);
      else assert.ok(nan > 0, `${type}: no NaN`);
      // Into an ordinary array, one weight past its start (nothing written before it).
      const out = new Float32Array(blocks * blockSize + 1).fill(-1);
      kernel(src, out.subarray(1), blocks);
      assert.equal(out[0], -1, `${type} wrote before its output`);
      const at = firstDifference(out.subarray(1), expected);
      assert.equal(at, -1, `${type}, offset ${offset}: weight ${at}`);
      // In place, into a buffer of the module's own memory.
      const own = simdOutputBuffer(expected.byteLength);
      const inPlace = new Float32Array(own.buffer, own.byteOffset, expected.length);
      kernel(src, inPlace, blocks);
      const there = firstDifference(inPlace, expected);
      assert.equal(there, -1, `${type} in place, offset ${offset}: weight ${there}`);
      // A single block and a few.
      for (const few of [1, 3]) {
        const some = new Float32Array(few * blockSize);
        kernel(src, some, few);
        assert.equal(firstDifference(some, expected.subarray(0, few * blockSize)), -1);
      }
    }
  });
}

/**
 * One run of whole blocks converted: dequantized to float32, or dequantized and
 * requantized a cache-sized pass at a time. The same function runs on the main thread and
 * in the worker threads, so every thread writes the same bytes for the same blocks.
 *
 * @module
 */
import { bytesFor, requireGgmlType } from "../model/ggml_type.ts";
import { dequantizerOf, quantizerOf } from "./kernels.ts";
import { simdOutputBuffer } from "./simd/simd_kernels.ts";

/**
 * Float32 values requantized at a time: the scratch values stay in the core's cache
 * between the dequantizer writing them and the quantizer reading them.
 */
const REQUANT_PASS_ELEMENTS = 1 << 14;

/** A run of blocks to convert (all of it can be posted to a worker thread). */
export interface RangeJob {
  /** The input's ggml type id (one with a dequantizer). */
  from: number;
  /** The output's type id: F32 (0), or a type with a quantizer. */
  to: number;
  /** The byte order of the input's blocks. */
  littleEndian: boolean;
  /** The input: whole blocks of `from`. */
  src: Uint8Array;
  /** The output: `elements` float32 values, or whole blocks of `to` (4-byte aligned for F32). */
  dst: Uint8Array;
  /** The values to convert: a multiple of both block sizes. */
  elements: number;
}

/** A thread's scratch for requantization passes (grown as needed). */
export interface RangeScratch {
  /** The float32 values of one requantization pass. */
  pass?: Float32Array;
}

/**
 * The elements of one requantization pass for the given unit (whole units, about 16 Ki).
 *
 * @param unit The larger of the two block sizes.
 * @returns A multiple of `unit`.
 *
 * @example
 * ```ts
 * import { requantizePass } from "./convert_range.ts";
 * import assert from "node:assert/strict";
 * assert.equal(requantizePass(256) % 256, 0);
 * ```
 */
export function requantizePass(unit: number): number {
  return Math.max(unit, REQUANT_PASS_ELEMENTS - (REQUANT_PASS_ELEMENTS % unit));
}

/**
 * Converts one run of blocks as the job says, into `job.dst`.
 *
 * @param job The types, the input and output bytes, and the number of values.
 * @param scratch This thread's reusable pass buffer.
 *
 * @example Dequantizing one Q8_0 block
 * ```ts
 * import { convertRange } from "./convert_range.ts";
 * import assert from "node:assert/strict";
 * const src = new Uint8Array(34);
 * src.set([0x00, 0x3c]); // scale 1.0 (float16)
 * src[2] = 5; // first value 5
 * const dst = new Uint8Array(32 * 4);
 * convertRange({ from: 8, to: 0, littleEndian: true, src, dst, elements: 32 }, {});
 * assert.equal(new Float32Array(dst.buffer)[0], 5);
 * ```
 */
export function convertRange(job: RangeJob, scratch: RangeScratch): void {
  const from = requireGgmlType(job.from);
  const dequantize = dequantizerOf(from)!.kernel;
  const { src, dst, elements, littleEndian } = job;
  if (job.to === 0) {
    const values = new Float32Array(dst.buffer, dst.byteOffset, elements);
    dequantize(src, values, elements / from.blockSize, littleEndian);
    return;
  }
  const to = requireGgmlType(job.to);
  const quantize = quantizerOf(to)!;
  const pass = requantizePass(Math.max(from.blockSize, to.blockSize));
  if (scratch.pass === undefined || scratch.pass.length < pass) {
    // Where the SIMD kernels run, they dequantize into this buffer in place.
    const bytes = simdOutputBuffer(pass * 4);
    scratch.pass = new Float32Array(bytes.buffer, bytes.byteOffset, pass);
  }
  const values = scratch.pass;
  for (let done = 0; done < elements; done += pass) {
    const count = Math.min(pass, elements - done);
    dequantize(src.subarray(bytesFor(from, done)), values, count / from.blockSize, littleEndian);
    quantize(values, dst.subarray(bytesFor(to, done)), count / to.blockSize);
  }
}

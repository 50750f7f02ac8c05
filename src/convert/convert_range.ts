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
import { transcoderOf } from "./transcode/transcoders.ts";

/**
 * Float32 values requantized at a time: the scratch values stay in the core's cache
 * between the dequantizer writing them and the quantizer reading them.
 */
const REQUANT_PASS_ELEMENTS = 1 << 14;

/** A run of blocks to convert (all of it can be posted to a worker thread). */
export interface RangeJob {
  /** The input's ggml type id (one with a dequantizer). */
  from: number;
  /** The output's type id: F32 (0), or a type with a quantizer (or a transcoder from `from`). */
  to: number;
  /** Rewrite the blocks with the transcoder from `from` to `to` instead of requantizing. */
  transcode?: boolean;
  /** Measure the error: return the sums of {@linkcode RangeSums}. */
  measure?: boolean;
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
  /** The output's float32 values of one pass, when measuring the error. */
  check?: Float32Array;
}

/**
 * What a measured run adds to a tensor's error: `error` = Σ(out − x)², `reference` = Σx²,
 * `x` the input's float32 values and `out` the output's (both 0 unless measuring).
 */
export interface RangeSums {
  /** Σ(out − x)². */
  error: number;
  /** Σx². */
  reference: number;
}

/**
 * The relative RMS error `sqrt(Σ(out − x)² / Σx²)` of measured sums: 0 when nothing
 * differs, `Infinity` when it cannot be bounded — an output value that is NaN or infinite
 * where the input's is finite (a value past what the output type can hold makes the sums
 * NaN or infinite), or an output that differs from an input of zeros.
 *
 * @param sums The sums of every measured value.
 * @returns The relative error, never NaN.
 *
 * @example
 * ```ts
 * import { relativeRms } from "./convert_range.ts";
 * import assert from "node:assert/strict";
 * assert.equal(relativeRms({ error: 1, reference: 100 }), 0.1);
 * assert.equal(relativeRms({ error: 0, reference: 0 }), 0);
 * assert.equal(relativeRms({ error: Number.NaN, reference: 100 }), Infinity);
 * ```
 */
export function relativeRms(sums: RangeSums): number {
  if (sums.error === 0) return 0;
  if (!(sums.error < Infinity) || sums.reference === 0) return Infinity;
  return Math.sqrt(sums.error / sums.reference);
}

/**
 * A whole conversion's sums, and the converted tensor whose own relative error is the
 * largest: the one number that a model's few large-valued tensors cannot hide.
 */
export interface ConversionSums extends RangeSums {
  /** The converted tensor with the largest relative RMS error so far, and that error. */
  largest?: { tensor: string; relativeError: number };
}

/**
 * Adds one converted tensor's sums to a conversion's, keeping the tensor with the largest
 * relative error (the first of equals).
 *
 * @param total The conversion's sums, updated.
 * @param tensor The tensor's name.
 * @param sums The tensor's own sums, over all its values.
 *
 * @example
 * ```ts
 * import { addTensorSums, type ConversionSums } from "./convert_range.ts";
 * import assert from "node:assert/strict";
 * const total: ConversionSums = { error: 0, reference: 0 };
 * addTensorSums(total, "big", { error: 1, reference: 1e6 });
 * addTensorSums(total, "small", { error: 1, reference: 100 });
 * assert.deepEqual(total.largest, { tensor: "small", relativeError: 0.1 });
 * assert.equal(total.error, 2);
 * ```
 */
export function addTensorSums(total: ConversionSums, tensor: string, sums: RangeSums): void {
  total.error += sums.error;
  total.reference += sums.reference;
  const relativeError = relativeRms(sums);
  if (total.largest === undefined || relativeError > total.largest.relativeError) {
    total.largest = { tensor, relativeError };
  }
}

/** A pass buffer of `length` values: where the SIMD kernels run, they write into it in place. */
function passBuffer(buffer: Float32Array | undefined, length: number): Float32Array {
  if (buffer !== undefined && buffer.length >= length) return buffer;
  const bytes = simdOutputBuffer(length * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, length);
}

/**
 * Adds Σ(out − x)² and Σx² over the first `count` values to `sums`, leaving out values
 * that are not finite in the input (NaN, ±Inf: no error can be relative to them).
 */
function accumulate(x: Float32Array, out: Float32Array, count: number, sums: RangeSums): void {
  let error = 0;
  let reference = 0;
  for (let i = 0; i < count; i++) {
    const v = x[i];
    if (v - v !== 0) continue; // NaN or ±Inf
    const d = out[i] - v;
    error += d * d;
    reference += v * v;
  }
  sums.error += error;
  sums.reference += reference;
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
 * Converts one run of blocks as the job says, into `job.dst`: dequantized (`to` F32),
 * transcoded block to block (`transcode`), or dequantized and quantized a cache-sized pass
 * at a time. With `measure`, the output is dequantized again and compared with the input's
 * values while they are at hand.
 *
 * @param job The types, the input and output bytes, and the number of values.
 * @param scratch This thread's reusable pass buffers.
 * @returns The error sums (zeros unless `job.measure`).
 *
 * @example Dequantizing one Q8_0 block
 * ```ts
 * import { convertRange } from "./convert_range.ts";
 * import assert from "node:assert/strict";
 * const src = new Uint8Array(34);
 * src.set([0x00, 0x3c]); // scale 1.0 (float16)
 * src[2] = 5; // first value 5
 * const dst = new Uint8Array(32 * 4);
 * const job = { from: 8, to: 0, littleEndian: true, src, dst, elements: 32, measure: true };
 * const sums = convertRange(job, {});
 * assert.equal(new Float32Array(dst.buffer)[0], 5);
 * assert.deepEqual(sums, { error: 0, reference: 25 });
 * ```
 */
export function convertRange(job: RangeJob, scratch: RangeScratch): RangeSums {
  const from = requireGgmlType(job.from);
  const dequantize = dequantizerOf(from)!.kernel;
  const { src, dst, elements, littleEndian, measure } = job;
  const sums: RangeSums = { error: 0, reference: 0 };
  if (job.to === 0) {
    const values = new Float32Array(dst.buffer, dst.byteOffset, elements);
    dequantize(src, values, elements / from.blockSize, littleEndian);
    if (measure) accumulate(values, values, elements, sums);
    return sums;
  }
  const to = requireGgmlType(job.to);
  const pass = requantizePass(Math.max(from.blockSize, to.blockSize));
  const values = scratch.pass = passBuffer(scratch.pass, pass);
  const check = measure ? (scratch.check = passBuffer(scratch.check, pass)) : undefined;
  const toFloat = dequantizerOf(to)!.kernel;
  if (job.transcode) {
    const transcoder = transcoderOf(from, to)!;
    transcoder.kernel(src, dst, elements / from.blockSize);
    if (check === undefined) return sums;
    if (transcoder.squares !== undefined) {
      // Lossless: no error, and Σx² straight from the codes.
      sums.reference = transcoder.squares(src, elements / from.blockSize, 0);
      return sums;
    }
    for (let done = 0; done < elements; done += pass) {
      const count = Math.min(pass, elements - done);
      toFloat(dst.subarray(bytesFor(to, done)), check, count / to.blockSize, true);
      // A lossless transcoder gives back the input's values: only Σx² is wanted.
      if (!transcoder.lossless) {
        dequantize(src.subarray(bytesFor(from, done)), values, count / from.blockSize, true);
      }
      accumulate(transcoder.lossless ? check : values, check, count, sums);
    }
    return sums;
  }
  const quantize = quantizerOf(to)!;
  for (let done = 0; done < elements; done += pass) {
    const count = Math.min(pass, elements - done);
    dequantize(src.subarray(bytesFor(from, done)), values, count / from.blockSize, littleEndian);
    const out = dst.subarray(bytesFor(to, done));
    quantize(values, out, count / to.blockSize);
    if (check !== undefined) {
      toFloat(out, check, count / to.blockSize, true);
      accumulate(values, check, count, sums);
    }
  }
  return sums;
}

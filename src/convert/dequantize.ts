/**
 * Dequantization of raw blocks for callers that hold them: the checked wrapper around
 * the kernels in `kernels.ts`.
 *
 * @module
 */
import { dequantizerOf } from "./kernels.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import { requireGgmlType } from "../model/ggml_type.ts";
import { simdOutputBuffer } from "./simd/simd_kernels.ts";

/** The most values {@linkcode kernelFloats} gives: 4 GiB of float32, a wasm32 memory's limit. */
const MAX_KERNEL_FLOATS = 2 ** 30;

/**
 * Dequantizes whole blocks of a ggml type to float32, bit for bit as ggml's `to_float`.
 *
 * @param type A ggml type id or name with a kernel: every type ggml can turn into float32
 *   (all but the integer types, F64, Q8_1 and Q8_K).
 * @param src Little-endian blocks; its length must be a whole number of blocks.
 * @param dst Where to write; a new array when omitted. Must hold every value. An array
 *   from {@linkcode kernelFloats} is written in place by the SIMD kernels; into any other
 *   the values are copied out of WebAssembly memory, a piece at a time.
 * @returns The values: `dst` (or a new array) trimmed to the block count × block size.
 * @throws {TypeError} For an unknown type, a partial block or a short `dst`.
 * @throws {GgufError} `UNSUPPORTED_TYPE` when no kernel exists for `type`.
 *
 * @example One Q8_0 block
 * ```ts
 * import { dequantize } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const block = new Uint8Array(34);
 * block.set([0x00, 0x3c]); // d = 1.0 as a half
 * block[2] = 5;
 * block[3] = 0xfe; // -2
 * const values = dequantize("Q8_0", block);
 * assert.deepEqual([...values.subarray(0, 3)], [5, -2, 0]);
 * ```
 */
export function dequantize(
  type: number | string,
  src: Uint8Array,
  dst?: Float32Array,
): Float32Array {
  const traits = requireGgmlType(type);
  const dequantizer = dequantizerOf(traits);
  if (dequantizer === undefined) {
    throw new GgufError(
      "UNSUPPORTED_TYPE",
      `Cannot dequantize ${traits.name}: gguf-stream has no kernel for it (pass it through instead)`,
    );
  }
  if (src.length % traits.bytesPerBlock !== 0) {
    throw new TypeError(
      `Cannot dequantize ${traits.name}: ${src.length} bytes is not a whole number of ${traits.bytesPerBlock}-byte blocks`,
    );
  }
  const blocks = src.length / traits.bytesPerBlock;
  const count = blocks * traits.blockSize;
  const out = dst ?? new Float32Array(count);
  if (out.length < count) {
    throw new TypeError(
      `Cannot dequantize ${traits.name}: dst holds ${out.length} values, ${count} needed`,
    );
  }
  dequantizer.kernel(src, out, blocks, true);
  return out.length === count ? out : out.subarray(0, count);
}

/**
 * A zeroed `Float32Array` that the SIMD dequantizers write into where they run: a view of a
 * WebAssembly memory of its own, so {@linkcode dequantize} into it skips copying the values
 * out of WebAssembly memory (which costs about as much as the dequantizing itself). Worth
 * it for large outputs that are filled many times or kept; each array holds a memory of
 * its own (about 450 KiB more than its values). Where WebAssembly SIMD cannot run, an
 * ordinary array, which works the same.
 *
 * @param count The number of float32 values (at most 2^30).
 * @returns The array, all zeros.
 * @throws {TypeError} When `count` is not a whole number from 0 to 2^30.
 * @throws {GgufError} `LIMIT_EXCEEDED` when the memory cannot be had.
 *
 * @example Dequantizing into it, many times
 * ```ts
 * import { dequantize, quantize } from "gguf-stream";
 * import { kernelFloats } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * const values = new Float32Array(4096).map((_, i) => Math.sin(i));
 * const blocks = quantize("Q8_0", values);
 * const out = kernelFloats(values.length);
 * for (let round = 0; round < 3; round++) dequantize("Q8_0", blocks, out);
 * assert.ok(out.every((v, i) => Math.abs(v - values[i]) < 0.01));
 * ```
 */
export function kernelFloats(count: number): Float32Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_KERNEL_FLOATS) {
    throw new TypeError(`kernelFloats: count must be a whole number from 0 to 2^30, got ${count}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = simdOutputBuffer(count * 4);
  } catch (cause) {
    throw new GgufError(
      "LIMIT_EXCEEDED",
      `Cannot allocate ${formatInteger(count)} float32 values: not enough memory`,
      undefined,
      { cause },
    );
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, count);
}

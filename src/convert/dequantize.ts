/**
 * Dequantization of raw blocks for callers that hold them: the checked wrapper around
 * the kernels in `kernels.ts`.
 *
 * @module
 */
import { dequantizerOf } from "./kernels.ts";
import { GgufError } from "../model/errors.ts";
import { requireGgmlType } from "../model/ggml_type.ts";

/**
 * Dequantizes whole blocks of a ggml type to float32, bit for bit as ggml's `to_float`.
 *
 * @param type A ggml type id or name with a kernel: every type ggml can turn into float32
 *   (all but the integer types, F64, Q8_1 and Q8_K).
 * @param src Little-endian blocks; its length must be a whole number of blocks.
 * @param dst Where to write; a new array when omitted. Must hold every value.
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

/**
 * Dequantization of raw blocks for callers that hold them: the checked wrapper around
 * the kernels in `ggml_type_traits.ts`.
 *
 * @module
 */
import { dequantizerOf } from "./kernels.ts";
import { GgufError } from "../model/errors.ts";
import { ggmlType, type GgmlTypeTraits } from "../model/ggml_type.ts";

/** Looks up a type by id or name, throwing a `TypeError` for neither. */
export function traitsOf(type: number | string): GgmlTypeTraits {
  const traits = typeof type === "number" ? ggmlType(type) : ggmlType(type);
  if (traits === undefined) throw new TypeError(`Unknown ggml type ${JSON.stringify(type)}`);
  return traits;
}

/**
 * Dequantizes whole blocks of a ggml type to float32, bit for bit as ggml's `to_float`.
 *
 * @param type A ggml type id or name with a kernel: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
 *   Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
 * @param src Little-endian blocks; its length must be a whole number of blocks.
 * @param dst Where to write; a new array when omitted. Must hold every value.
 * @returns The values: `dst` (or a new array) trimmed to the block count × block size.
 * @throws {TypeError} For an unknown type, a partial block or a short `dst`.
 * @throws {GgufError} `UNSUPPORTED_TYPE` when no kernel exists for `type`.
 *
 * @example One Q8_0 block
 * ```ts
 * import { dequantize } from "../../mod.ts";
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
  const traits = traitsOf(type);
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

/**
 * Quantization of float32 values for callers that hold them: the checked wrapper around
 * the quantizers of `kernels.ts`.
 *
 * @module
 */
import { requireGgmlType } from "../model/ggml_type.ts";
import { quantizableTypes, quantizerOf } from "./kernels.ts";

/**
 * Quantizes float32 values into whole blocks of a type, bit for bit as ggml's
 * quantizers without an importance matrix (`ggml_quantize_chunk`, what
 * `llama-quantize --allow-requantize` writes). The types are those `quantizableTypes()`
 * lists, among them Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4 and IQ4_NL (32-value blocks),
 * IQ4_XS (256-value super-blocks), F16 and BF16 (one value each, little-endian). Rows
 * need no special handling: the blocks of consecutive rows are those of their
 * concatenation.
 *
 * @param type The target type, by name (any case) or id.
 * @param src The values, a whole number of the type's blocks.
 * @param dst Where to write; a new array when omitted. Must hold every block.
 * @returns The blocks: `dst` (or a new array) trimmed to blocks × bytes per block.
 * @throws {TypeError} For an unknown type, a type gguf-stream cannot quantize into, a
 *   `src` length that is not a multiple of the type's block size, or a short `dst`.
 *
 * @example Quantize one block, then read it back
 * ```ts
 * import { dequantize, quantize } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const values = new Float32Array(32);
 * values[0] = 1.27;
 * values[1] = -0.5;
 * const block = quantize("Q8_0", values);
 * assert.equal(block.length, 34);
 * assert.deepEqual([...block.subarray(0, 4)], [0x1f, 0x21, 127, 0xce]); // d = 0.01, 127, -50
 * const back = dequantize("Q8_0", block);
 * assert.ok(Math.abs(back[1] - values[1]) < 0.01);
 * assert.deepEqual([...quantize("F16", values.subarray(0, 2))], [0x14, 0x3d, 0x00, 0xb8]);
 * assert.equal(quantize("IQ4_XS", new Float32Array(256)).length, 136);
 * assert.throws(() => quantize("IQ4_XS", values), TypeError); // 32 values: not a super-block
 * assert.throws(() => quantize("IQ2_XXS", values), TypeError); // needs an importance matrix
 * ```
 */
export function quantize(
  type: number | string,
  src: Float32Array,
  dst?: Uint8Array,
): Uint8Array {
  const traits = requireGgmlType(type);
  const kernel = quantizerOf(traits);
  if (kernel === undefined) {
    throw new TypeError(
      `Cannot quantize to ${traits.name}: gguf-stream quantizes only to ${
        quantizableTypes().join(", ")
      }`,
    );
  }
  if (src.length % traits.blockSize !== 0) {
    throw new TypeError(
      `Cannot quantize to ${traits.name}: ${src.length} values is not a whole number of ${traits.blockSize}-value blocks`,
    );
  }
  const blocks = src.length / traits.blockSize;
  const length = blocks * traits.bytesPerBlock;
  const out = dst ?? new Uint8Array(length);
  if (out.length < length) {
    throw new TypeError(
      `Cannot quantize to ${traits.name}: dst holds ${out.length} bytes, ${length} needed`,
    );
  }
  kernel(src, out, blocks);
  return out.length === length ? out : out.subarray(0, length);
}

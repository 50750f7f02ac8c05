/**
 * The per-type kernels for integrators who host them themselves: ggml's dequantizers,
 * quantizers and the direct block-to-block transcoders, looked up by type, and rows of a
 * model's tensor as float32. Most users need only `gguf-stream` (`dequantize`, `quantize`).
 *
 * @example Dequantizing blocks through the kernel table
 * ```ts
 * import { dequantizerOf, quantizerOf } from "gguf-stream/kernels";
 * import { ggmlType } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const q8 = ggmlType("Q8_0")!;
 * const values = new Float32Array(64).map((_, i) => i / 16 - 2);
 * const blocks = new Uint8Array(2 * q8.bytesPerBlock);
 * quantizerOf(q8)!(values, blocks, 2);
 * const back = new Float32Array(64);
 * dequantizerOf(q8)!.kernel(blocks, back, 2, true);
 * assert.ok(back.every((v, i) => Math.abs(v - values[i]) < 0.02));
 * ```
 *
 * @module
 */
export {
  type DequantizeKernel,
  type Dequantizer,
  dequantizerOf,
  quantizableTypes,
  type QuantizeKernel,
  quantizerOf,
} from "./src/convert/kernels.ts";
export {
  allTranscoders,
  registerTranscoder,
  transcoderOf,
} from "./src/convert/transcode/transcoders.ts";
export type {
  SquaresKernel,
  TranscodeKernel,
  Transcoder,
} from "./src/convert/transcode/transcoders.ts";
export { bitsPerWeight } from "./src/convert/policy.ts";
export { kernelFloats } from "./src/convert/dequantize.ts";
export { readTensorRows, type TensorRowsOptions } from "./src/convert/read_tensor_rows.ts";

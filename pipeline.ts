/**
 * The conversion's steps for integrators who drive it themselves — into a sink of their
 * own, or with a policy checked and decided tensor by tensor: the policy, the prepared
 * conversion, the converted file's bytes, and the GGUF header encoder. Most users need only
 * `gguf-stream` (`convertGguf`, `convertFile`, `convertStream`).
 *
 * @example Converting into a sink of your own
 * ```ts
 * import { writeConvertedModel } from "gguf-stream/pipeline";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("./samples/tiny-llama.gguf", import.meta.url));
 * let bytes = 0;
 * const result = await writeConvertedModel(model, () =>
 *   Promise.resolve({
 *     write: (chunk: Uint8Array) => Promise.resolve(void (bytes += chunk.length)),
 *     commit: () => Promise.resolve(),
 *     abort: () => Promise.resolve(),
 *   }));
 * assert.equal(bytes, result.outputBytes);
 * await model.close();
 * ```
 *
 * @module
 */
export { DEFAULT_TARGET } from "./src/model/conversion.ts";
export { decideTensor, REQUANTIZE_TYPES, resolvePolicy } from "./src/convert/policy.ts";
export type { ResolvedPolicy, TensorDecision } from "./src/convert/policy.ts";
export { type RuntimeProfile, runtimeProfile, runtimeProfiles } from "./src/convert/profiles.ts";
export { prepareConversion, prepareMeasuredConversion } from "./src/convert/prepare.ts";
export {
  conversionSummary,
  convertedHeader,
  type PreparedConversion,
} from "./src/convert/prepare.ts";
export type { ConversionSums, RangeSums } from "./src/convert/convert_range.ts";
export { convertModelTensors } from "./src/output/memory.ts";
export { encodeConverted, type EncodeOptions } from "./src/output/encode_model.ts";
export { writeConvertedModel, type WriteOptions } from "./src/output/file.ts";
export { type EncodedGgufHeader, encodeGgufHeader } from "./src/format/encode_header.ts";
export type { GgufHeaderSpec, TensorLayoutInput } from "./src/format/encode_header.ts";
export { alignOffset, DEFAULT_ALIGNMENT } from "./src/format/parse_header.ts";

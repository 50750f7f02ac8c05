/**
 * gguf-stream: read GGUF models (llama.cpp's format) without reading their data, and
 * convert them tensor by tensor for runtimes that load only some types — in memory, file
 * to file, or stream to stream, bit-exact with ggml.
 *
 * @example Plan and convert
 * ```ts
 * import { convertGguf, planConversion, readGguf } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const sample = new URL("./samples/tiny-llama.gguf", import.meta.url);
 * const header = await readGguf(sample); // reads only the header
 * const plan = planConversion(header, { requantize: "Q8_0" });
 * assert.ok(plan.every((p) => ["Q4_0", "Q8_0", "F32"].includes(p.typeName)));
 * const model = await convertGguf(sample, { policy: { requantize: "Q8_0" } });
 * assert.equal(model.tensors.size, header.tensors.length);
 * ```
 *
 * Building blocks for integrators (byte sources, sinks, the chunk encoder) are in
 * `advanced.ts`.
 *
 * @module
 */
export { GgufError, type GgufErrorCode } from "./src/model/errors.ts";
export {
  type GgufArray,
  type GgufFile,
  type GgufMetadataEntry,
  type GgufValue,
  GgufValueType,
  type TensorInfo,
} from "./src/model/gguf_file.ts";
export {
  GGML_TYPES,
  GgmlType,
  ggmlType,
  type GgmlTypeName,
  type GgmlTypeTraits,
} from "./src/model/ggml_type.ts";
export {
  type BlockTensor,
  type ConversionMethod,
  type ConversionPolicy,
  type ConversionSummary,
  type ConvertedBase,
  type ConvertedTensor,
  DEFAULT_TARGET,
  type Float32Tensor,
  type PlannedAction,
  type RequantizeType,
  type TensorAction,
  type TensorPlan,
} from "./src/model/conversion.ts";
export type { ByteSource, CloseOptions } from "./src/model/byte_source.ts";
export type { WritePhases } from "./src/model/byte_sink.ts";
export type { GgufInput } from "./src/open/resolve_input.ts";
export { readGguf, type ReadGgufOptions } from "./src/open/read_gguf.ts";
export {
  type GgufStream,
  readGgufStream,
  type ReadStreamOptions,
  type StreamedTensor,
} from "./src/open/read_gguf_stream.ts";
export { conversionWarnings, planConversion } from "./src/convert/plan.ts";
export { type PolicyFlags, policyFromFlags } from "./src/convert/policy_from_flags.ts";
export { dequantize } from "./src/convert/dequantize.ts";
export { quantize } from "./src/convert/quantize.ts";
export { dequantizeRows } from "./src/convert/dequantize_rows.ts";
export { detachTensor } from "./src/convert/detach_tensor.ts";
export type { ConvertOptions } from "./src/convert/prepare.ts";
export {
  type ConvertedModel,
  convertGguf,
  type ConvertInputOptions,
  convertTensors,
} from "./src/output/memory.ts";
export {
  convertFile,
  type ConvertFileOptions,
  type ConvertFileResult,
  type ConvertProgress,
} from "./src/output/file.ts";
export { convertStream, type ConvertStreamOptions } from "./src/output/stream.ts";
export { type ModelInfo, modelInfo, type ModelInfoInput } from "./src/model/model_info.ts";
export { fileTypeName } from "./src/model/file_type.ts";
export { hasRawBytes, stringBytes } from "./src/format/utf8.ts";

/**
 * gguf-stream: read GGUF models (llama.cpp's format) without reading their data, and
 * convert them tensor by tensor for runtimes that load only some types — in memory, file
 * to file, or stream to stream, bit-exact with ggml.
 *
 * @example Plan and convert
 * ```ts
 * import { convertGguf, planConversion, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const sample = new URL("./samples/tiny-llama.gguf", import.meta.url);
 * const header = await readGguf(sample); // reads only the header
 * const plan = planConversion(header, { requantize: "Q8_0" });
 * assert.ok(plan.every((p) => ["Q4_0", "Q8_0", "F32"].includes(p.typeName)));
 * const model = await convertGguf(sample, { policy: { requantize: "Q8_0" } });
 * assert.equal(model.tensors.size, header.tensors.length);
 * ```
 *
 * Building blocks for integrators are in named entry points: `gguf-stream/sources` (byte
 * sources, sinks, opened models), `gguf-stream/kernels` (per-type kernels) and
 * `gguf-stream/pipeline` (the conversion's steps, the header and file encoders).
 *
 * @module
 */
// Read
export { readGguf, type ReadGgufOptions } from "./src/open/read_gguf.ts";
export { readGgufStream } from "./src/open/read_gguf_stream.ts";
export type { GgufStream, ReadStreamOptions, StreamedTensor } from "./src/open/read_gguf_stream.ts";
export type { GgufInput } from "./src/open/resolve_input.ts";
export type { ByteSource, CloseOptions } from "./src/model/byte_source.ts";
export { GgufValueType } from "./src/model/gguf_file.ts";
export type { GgufArray, GgufFile, GgufMetadataEntry, GgufValue } from "./src/model/gguf_file.ts";
export type { TensorInfo } from "./src/model/gguf_file.ts";
export { type ModelInfo, modelInfo, type ModelInfoInput } from "./src/model/model_info.ts";
export { fileTypeName } from "./src/model/file_type.ts";
export { hasRawBytes, stringBytes } from "./src/format/utf8.ts";
// Plan
export { conversionWarnings, planConversion } from "./src/convert/plan.ts";
export type { ConversionPolicy, PlannedAction, RequantizeType } from "./src/model/conversion.ts";
export type { ConversionMethod, TensorAction, TensorPlan } from "./src/model/conversion.ts";
export type { BlockTensor, ConvertedBase, ConvertedTensor } from "./src/model/conversion.ts";
export type { ConversionSummary, Float32Tensor } from "./src/model/conversion.ts";
// Convert
export type { ConvertOptions } from "./src/convert/prepare.ts";
export { convertGguf, convertTensors } from "./src/output/memory.ts";
export type { ConvertedModel, ConvertInputOptions } from "./src/output/memory.ts";
export { convertFile, type ConvertFileOptions } from "./src/output/file.ts";
export type { ConvertFileResult, ConvertProgress } from "./src/output/file.ts";
export type { WritePhases } from "./src/model/byte_sink.ts";
export { convertStream, type ConvertStreamOptions } from "./src/output/stream.ts";
export { detachTensor } from "./src/convert/detach_tensor.ts";
export { dequantizeRows } from "./src/convert/dequantize_rows.ts";
// Blocks and types
export { dequantize } from "./src/convert/dequantize.ts";
export { quantize } from "./src/convert/quantize.ts";
export { GGML_TYPES, GgmlType, ggmlType } from "./src/model/ggml_type.ts";
export type { GgmlTypeName, GgmlTypeTraits } from "./src/model/ggml_type.ts";
export { GgufError, type GgufErrorCode } from "./src/model/errors.ts";

/**
 * gguf-stream: open GGUF model files through mmap, validate every byte of the header,
 * and convert tensors one at a time.
 *
 * @example
 * ```ts
 * import { readGguf } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * assert.equal((await readGguf(bytes)).version, 3);
 * ```
 *
 * @module
 */
export { formatInteger, GgufError, type GgufErrorCode } from "./src/model/errors.ts";
export {
  GGUF_VALUE_TYPE_NAMES,
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
  QK_K,
} from "./src/model/ggml_type.ts";
export { type DequantizeKernel, dequantizerOf } from "./src/convert/kernels.ts";
export { alignOffset, DEFAULT_ALIGNMENT, type ParseOptions } from "./src/parse/parse_header.ts";
export { type GgufInput, readGguf, type ReadGgufOptions } from "./src/open/read_gguf.ts";
export {
  type GgufJson,
  ggufToJson,
  type JsonMetadataEntry,
  type JsonTensor,
  metadataValueToJson,
} from "./src/cli/gguf_json.ts";
export type { ByteSource, ByteSourceKind } from "./src/model/byte_source.ts";
export { bytesSource } from "./src/source/bytes.ts";
export {
  type AccessMode,
  openByteSource,
  type OpenOptions,
  RUNTIME,
  type Runtime,
} from "./src/source/open_source.ts";
export { dequantize } from "./src/convert/dequantize.ts";
export {
  chooseStrategy,
  type ConversionPolicy,
  DEFAULT_STRATEGIES,
  STRATEGIES,
  type Strategy,
  type StrategyChoice,
} from "./src/convert/policy.ts";
export {
  fallbackWarnings,
  type OutputKind,
  planConversion,
  type TensorPlan,
} from "./src/convert/plan.ts";
export type {
  ConvertedTensor,
  Float32Tensor,
  PackedTensor,
  RawTensor,
} from "./src/model/converted_tensor.ts";
export {
  type ConvertedModel,
  convertGguf,
  convertModelTensors,
  type ConvertOptions,
  convertTensors,
  DEFAULT_CHUNK_BYTES,
  dequantizeRows,
} from "./src/output/memory.ts";
export {
  formatPlan,
  type JsonPlannedTensor,
  type PlanJson,
  planToJson,
} from "./src/cli/format_plan.ts";
export { toJsonText } from "./src/cli/json_text.ts";
export {
  type EncodedGgufHeader,
  encodeGgufHeader,
  type GgufHeaderSpec,
  type TensorLayoutInput,
} from "./src/output/encode_header.ts";
export {
  type GgufModel,
  type GgufPart,
  openGgufModel,
  type OpenModelOptions,
} from "./src/open/open_model.ts";
export {
  type ByteSink,
  convertFile,
  type ConvertFileOptions,
  type ConvertFileResult,
  convertModelTo,
  type ConvertProgress,
  writeConverted,
} from "./src/output/file.ts";
export {
  convertedHeader,
  encodeConverted,
  type EncodeConvertedOptions,
} from "./src/output/encode_model.ts";
export { type FileSink, type FileSinkOptions, openFileSink } from "./src/source/file_sink.ts";
export {
  checkSequential,
  convertStream,
  type ConvertStreamOptions,
  type GgufStream,
  openGgufStream,
  readGgufStream,
  type StreamedTensor,
  type StreamOptions,
} from "./src/output/stream.ts";
export { stdinStream, stdoutSink } from "./src/source/stdio.ts";

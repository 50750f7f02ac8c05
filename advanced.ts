/**
 * Building blocks for integrators: byte sources and sinks, opened models, the plan's
 * pieces, the converted-file encoder and the kernels. Most users need only `mod.ts`.
 *
 * @example Converting into a sink of your own
 * ```ts
 * import { openGgufModel, writeConvertedModel } from "./advanced.ts";
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
export { formatInteger } from "./src/model/errors.ts";
export { QK_K, requireGgmlType } from "./src/model/ggml_type.ts";
export { type ByteSourceKind, checkRange } from "./src/model/byte_source.ts";
export type { ByteSink } from "./src/model/byte_sink.ts";
export type { GgufModel, GgufPart } from "./src/model/gguf_model.ts";
export {
  alignOffset,
  DEFAULT_ALIGNMENT,
  DEFAULT_MAX_HEADER_MEMORY,
  type ParseOptions,
} from "./src/format/parse_header.ts";
export {
  type EncodedGgufHeader,
  encodeGgufHeader,
  type GgufHeaderSpec,
  type TensorLayoutInput,
} from "./src/format/encode_header.ts";
export { bytesSource } from "./src/source/bytes.ts";
export { type AccessMode, openByteSource, type OpenOptions } from "./src/source/open_source.ts";
export { RUNTIME, type Runtime } from "./src/runtime/current.ts";
export { openStreamSource, type StreamSource } from "./src/source/stream_source.ts";
export { type FileSink, type FileSinkOptions, openFileSink } from "./src/source/file_sink.ts";
export { stdinStream, stdoutSink } from "./src/source/stdio.ts";
export {
  DEFAULT_FIRST_REQUEST_BYTES,
  type FetchFunction,
  type HttpOptions,
  openHttpRangeSource,
} from "./src/source/http_range.ts";
export { openHttpStream } from "./src/source/http_stream.ts";
export type { RetryOptions } from "./src/source/http_request.ts";
export { blobSource } from "./src/source/blob.ts";
export {
  DEFAULT_MAX_HEADER_BYTES,
  type ReadOptions,
  readSourceHeader,
  type RemoteMode,
  remoteUrl,
  type ResolvedInput,
  resolveInput,
  type ResolveOptions,
} from "./src/open/resolve_input.ts";
export { openGgufModel, type OpenModelOptions } from "./src/open/open_model.ts";
export {
  type DequantizeKernel,
  type Dequantizer,
  dequantizerOf,
  quantizableTypes,
  type QuantizeKernel,
  quantizerOf,
} from "./src/convert/kernels.ts";
export {
  actionInto,
  autoCandidates,
  bitsPerWeight,
  decideTensor,
  DEFAULT_MAX_ERROR,
  REQUANTIZE_TYPES,
  type ResolvedPolicy,
  resolvePolicy,
  ROW_FALLBACK,
  rowFallback,
  TENSOR_ACTIONS,
  type TensorDecision,
} from "./src/convert/policy.ts";
export { type RuntimeProfile, runtimeProfile, runtimeProfiles } from "./src/convert/profiles.ts";
export {
  allTranscoders,
  registerTranscoder,
  type TranscodeKernel,
  type Transcoder,
  transcoderOf,
} from "./src/convert/transcode/transcoders.ts";
export { planConversion } from "./src/convert/plan.ts";
export {
  conversionSummary,
  convertedHeader,
  outputFileType,
  prepareConversion,
  type PreparedConversion,
  prepareMeasuredConversion,
} from "./src/convert/prepare.ts";
export { type ChooseAutoOptions, chooseAutoTypes } from "./src/convert/choose_auto.ts";
export {
  type ChunkScratch,
  convertTensorChunks,
  DEFAULT_CHUNK_BYTES,
  type TensorChunkOptions,
} from "./src/convert/tensor_chunks.ts";
export {
  AUTO_THREADS_MIN_ELEMENTS,
  checkThreads,
  ConvertThreads,
} from "./src/convert/convert_threads.ts";
export {
  convertRange,
  type RangeJob,
  type RangeScratch,
  type RangeSums,
} from "./src/convert/convert_range.ts";
export { availableCores, canStartWorkers } from "./src/runtime/current.ts";
export { convertModelTensors } from "./src/output/memory.ts";
export { encodeConverted, type EncodeOptions } from "./src/output/encode_model.ts";
export { writeConvertedModel, type WriteOptions } from "./src/output/file.ts";
export { readTensorRows, type TensorRowsOptions } from "./src/convert/read_tensor_rows.ts";
export { LLAMA_FILE_TYPES } from "./src/model/file_type.ts";

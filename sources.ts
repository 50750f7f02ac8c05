/**
 * Byte sources and sinks for integrators: where a model's bytes come from (a mapping,
 * positional reads, bytes in memory, a `Blob`, HTTP ranges, a stream) and where a
 * converted model's bytes go (an atomic file, standard output, a sink of your own), and
 * the opened model every conversion reads from. Most users need only `gguf-stream`.
 *
 * @example A model from bytes you hold
 * ```ts
 * import { bytesSource, openGgufModel } from "gguf-stream/sources";
 * import { readFile } from "node:fs/promises";
 * import assert from "node:assert/strict";
 * const bytes = await readFile(new URL("./samples/tiny-llama.gguf", import.meta.url));
 * const model = await openGgufModel(bytesSource(bytes));
 * try {
 *   assert.equal(model.parts[0].source.kind, "bytes");
 *   assert.ok(model.tensors.length > 0);
 * } finally {
 *   await model.close(); // or `await using model = …` where the runtime has it
 * }
 * ```
 *
 * @module
 */
export type { ByteSource, ByteSourceKind, CloseOptions } from "./src/model/byte_source.ts";
export type { ByteSink } from "./src/model/byte_sink.ts";
export type { GgufModel, GgufPart } from "./src/model/gguf_model.ts";
export { openGgufModel, type OpenModelOptions } from "./src/open/open_model.ts";
export { type ResolvedInput, resolveInput, type ResolveOptions } from "./src/open/resolve_input.ts";
export { readSourceHeader, remoteUrl } from "./src/open/resolve_input.ts";
export type { GgufInput, ReadOptions, RemoteMode } from "./src/open/resolve_input.ts";
export type { ParseOptions } from "./src/format/parse_header.ts";
export { type AccessMode, openByteSource, type OpenOptions } from "./src/source/open_source.ts";
export { bytesSource } from "./src/source/bytes.ts";
export { blobSource } from "./src/source/blob.ts";
export { openStreamSource, type StreamSource } from "./src/source/stream_source.ts";
export {
  type FetchFunction,
  type HttpOptions,
  openHttpRangeSource,
} from "./src/source/http_range.ts";
export { openHttpStream } from "./src/source/http_stream.ts";
export type { RetryOptions } from "./src/source/http_request.ts";
export type { RequestHeaders } from "./src/source/idle_fetch.ts";
export { type FileSink, type FileSinkOptions, openFileSink } from "./src/source/file_sink.ts";
export { stdinStream, stdoutSink } from "./src/source/stdio.ts";

/**
 * One-pass reading and conversion of a GGUF model arriving as a `ReadableStream` (a fetch
 * body, an object-store read, stdin), holding a bounded window whatever the model's size
 * and reading only as fast as the consumer takes the output.
 *
 * @module
 */
import { NeedMoreBytes } from "../parse/cursor.ts";
import type { ConvertOptions } from "./memory.ts";
import { convertedHeader, encodeConverted } from "./encode_model.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import type { GgufModel } from "../open/open_model.ts";
import { parseGgufHeader, type ParseOptions } from "../parse/parse_header.ts";
import { fallbackWarnings, planConversion, printWarning } from "../convert/plan.ts";
import type { ByteSource } from "../model/byte_source.ts";
import { StreamBuffer } from "../source/stream_buffer.ts";
import type { GgufFile, TensorInfo } from "../model/gguf_file.ts";

/** Options for reading a GGUF stream. */
export interface StreamOptions extends ParseOptions {
  /** The largest data chunk handed out, in bytes (default 4 MiB). */
  windowBytes?: number;
  /** The most bytes the header may occupy before it is refused (default 256 MiB). */
  maxHeaderBytes?: number;
}

/** One tensor of a stream: its index entry and its bytes, in order. */
export interface StreamedTensor {
  info: TensorInfo;
  /**
   * The tensor's bytes in chunks of at most `windowBytes`. Read it before moving to the
   * next tensor; whatever is left unread is skipped.
   */
  data: AsyncIterable<Uint8Array>;
}

/** A GGUF stream after its header: the header, then its tensors in file order. */
export interface GgufStream extends AsyncIterable<StreamedTensor> {
  /** The parsed header. `fileSize` is known only if the stream ended within it. */
  header: GgufFile;
  /** Stops reading and cancels the input stream. */
  cancel(): Promise<void>;
}

const FIRST_HEADER_READ = 1 << 16;
const DEFAULT_WINDOW = 4 << 20;
const DEFAULT_MAX_HEADER = 256 << 20;

/** Parses the header from the front of the stream, buffering only the header's bytes. */
async function parseStreamHeader(buffer: StreamBuffer, options: StreamOptions): Promise<GgufFile> {
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  let want = Math.min(FIRST_HEADER_READ, maxHeader);
  for (;;) {
    await buffer.fill(want);
    const length = Math.min(want, buffer.available);
    const complete = buffer.ended && length === buffer.available;
    try {
      return parseGgufHeader(buffer.peek(length), complete, undefined, options);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      if (error.end > maxHeader) {
        throw new GgufError(
          "LIMIT_EXCEEDED",
          `Cannot read the stream's header: it needs more than ${
            formatInteger(maxHeader)
          } bytes (raise maxHeaderBytes if the model really has such metadata)`,
          length,
        );
      }
      want = Math.min(maxHeader, Math.max(error.end, want * 2));
    }
  }
}

/**
 * Parses only the header of a stream, then cancels the rest. Unlike
 * {@linkcode openGgufStream}, it does not require the tensor data to be in index order.
 */
export async function readStreamHeader(
  stream: ReadableStream<Uint8Array>,
  options: StreamOptions = {},
): Promise<GgufFile> {
  const buffer = new StreamBuffer(stream);
  try {
    return await parseStreamHeader(buffer, options);
  } finally {
    await buffer.cancel().catch(() => {});
  }
}

/** Refuses an index whose data is not in ascending offset order: it cannot be read in one pass. */
export function checkSequential(tensors: TensorInfo[]): void {
  for (let i = 1; i < tensors.length; i++) {
    if (tensors[i].offset < tensors[i - 1].offset) {
      throw new GgufError(
        "NOT_SEQUENTIAL",
        `Cannot read the stream in one pass: tensor "${tensors[i].name}" (data at byte ${
          formatInteger(tensors[i].fileOffset)
        }) comes after "${
          tensors[i - 1].name
        }" in the index but before it in the file; convert from a file instead`,
        tensors[i].indexOffset,
      );
    }
  }
}

/** A byte source that can only move forward through the stream. */
function sequentialSource(buffer: StreamBuffer): ByteSource {
  return {
    kind: "stream",
    size: Number.MAX_SAFE_INTEGER,
    view: () => undefined,
    async read(offset, length, into) {
      if (offset < buffer.position) {
        throw new GgufError(
          "NOT_SEQUENTIAL",
          `Cannot read byte ${formatInteger(offset)} of the stream: it has already passed byte ${
            formatInteger(buffer.position)
          }`,
          offset,
        );
      }
      await buffer.skipTo(offset);
      return await buffer.readExact(length, into);
    },
    close: () => buffer.cancel(),
  };
}

/**
 * Opens a stream as a model: the header parsed, the data readable once, forward only.
 *
 * @param stream The model's bytes, in any chunking.
 * @param options Parse options and the header limit.
 * @returns A model whose one part reads from the stream; `close()` cancels the stream.
 * @throws {GgufError} For an invalid header (as from a file), `LIMIT_EXCEEDED` for a
 *   header past `maxHeaderBytes`, `NOT_SEQUENTIAL` when the data is not in index order.
 *
 * @example
 * ```ts
 * import { openGgufStream } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const model = await openGgufStream(new Blob([bytes]).stream());
 * assert.equal(model.tensors.length, 0);
 * await model.close();
 * ```
 */
export async function openGgufStream(
  stream: ReadableStream<Uint8Array>,
  options: StreamOptions = {},
): Promise<GgufModel> {
  const buffer = new StreamBuffer(stream);
  try {
    const header = await parseStreamHeader(buffer, options);
    // A forward-only source can serve the model only if its data comes in index order.
    checkSequential(header.tensors);
    return {
      parts: [{ path: undefined, source: sequentialSource(buffer), header }],
      metadata: header.metadata,
      tensors: header.tensors,
      tensorParts: header.tensors.map(() => 0),
      close: () => buffer.cancel(),
    };
  } catch (error) {
    await buffer.cancel(error).catch(() => {});
    throw error;
  }
}

/**
 * Reads a GGUF model from a stream in one pass: the header first, then each tensor's bytes
 * in file order, holding at most a window of data at a time.
 *
 * @param stream The model's bytes, in any chunking.
 * @param options `windowBytes`, `maxHeaderBytes`, `lenient`.
 * @returns The header, iterable over the tensors.
 * @throws {GgufError} For an invalid header, `NOT_SEQUENTIAL` when the index is not in
 *   ascending data order; later, `TRUNCATED` if the stream ends early.
 *
 * @example
 * ```ts
 * import { readGgufStream } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const response = new Response(await Deno.readFile(new URL("../../samples/tiny-llama.gguf", import.meta.url)));
 * const model = await readGgufStream(response.body!);
 * let bytes = 0;
 * for await (const tensor of model) {
 *   for await (const chunk of tensor.data) bytes += chunk.length;
 * }
 * assert.equal(bytes, 1_025_024);
 * ```
 */
export async function readGgufStream(
  stream: ReadableStream<Uint8Array>,
  options: StreamOptions = {},
): Promise<GgufStream> {
  const window = options.windowBytes ?? DEFAULT_WINDOW;
  if (!Number.isSafeInteger(window) || window < 1) {
    throw new TypeError(`windowBytes must be a positive integer, got ${window}`);
  }
  const model = await openGgufStream(stream, options);
  const header = model.parts[0].header;
  const source = model.parts[0].source;
  return {
    header,
    cancel: () => model.close(),
    async *[Symbol.asyncIterator]() {
      for (const info of header.tensors) {
        yield { info, data: tensorChunks(source, info, window) };
      }
    },
  };
}

async function* tensorChunks(
  source: ByteSource,
  info: TensorInfo,
  window: number,
): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < info.nbytes; done += window) {
    yield await source.read(info.fileOffset + done, Math.min(window, info.nbytes - done));
  }
}

/** Options for {@linkcode convertStream}. */
export interface ConvertStreamOptions extends ConvertOptions, StreamOptions {}

/** Bytes per output read for readers that bring no buffer of their own. */
const OUTPUT_READ_BYTES = 64 * 1024;

/**
 * Converts a GGUF model arriving as a stream into a stream of the converted GGUF file,
 * byte-identical to what {@linkcode convertFile} writes for the same input and policy.
 * The output header is computed from the plan up front; nothing is emitted before the
 * header is validated and the plan checked. Reading follows the consumer: a slow reader
 * slows the input, and memory stays bounded by a few chunks. Cancelling the output
 * cancels the input.
 *
 * The result is a byte stream: a BYOB reader (`getReader({ mode: "byob" })`, or a runtime
 * pumping a response body that way) has the bytes copied straight into its own buffer, so
 * the conversion allocates nothing per chunk; a default reader gets 64 KiB chunks of its own.
 *
 * @param stream The model's bytes, in any chunking.
 * @param options Policy, warnings, chunk size, header limit, `lenient`.
 * @returns The converted file's bytes.
 *
 * @example
 * ```ts
 * import { convertStream, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const input = await Deno.readFile(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const output = await new Response(convertStream(new Blob([input]).stream())).bytes();
 * const converted = await readGguf(output);
 * assert.equal(converted.tensors[2].typeName, "F32"); // was Q4_K
 * ```
 */
export function convertStream(
  stream: ReadableStream<Uint8Array>,
  options: ConvertStreamOptions = {},
): ReadableStream<Uint8Array> {
  let model: GgufModel | undefined;
  let chunks: AsyncGenerator<Uint8Array> | undefined;
  /** What is left of the encoder's current chunk (valid until `chunks.next()`). */
  let current: Uint8Array | undefined;
  const fail = async (error: unknown) => {
    if (model !== undefined) await model.close().catch(() => {});
    else await stream.cancel(error).catch(() => {});
  };
  const source: UnderlyingByteSource = {
    type: "bytes",
    autoAllocateChunkSize: OUTPUT_READ_BYTES,
    async pull(controller: ReadableByteStreamController) {
      try {
        if (chunks === undefined) {
          model = await openGgufStream(stream, options);
          const plan = planConversion(model, options.policy);
          const header = convertedHeader(model, plan);
          for (const message of fallbackWarnings(plan)) {
            (options.onWarning ?? printWarning)(message);
          }
          // The encoder reuses its buffers: every byte is copied out below before the next chunk.
          chunks = encodeConverted(model, plan, header, { chunkBytes: options.chunkBytes });
        }
        while (current === undefined || current.length === 0) {
          const { value, done } = await chunks.next();
          if (done) {
            controller.close();
            controller.byobRequest?.respond(0);
            await model!.close();
            return;
          }
          current = value;
        }
        const request = controller.byobRequest;
        if (request === null || request.view === null) {
          controller.enqueue(current.slice());
          current = undefined;
          return;
        }
        const view = new Uint8Array(
          request.view.buffer,
          request.view.byteOffset,
          request.view.byteLength,
        );
        const count = Math.min(view.length, current.length);
        view.set(current.subarray(0, count));
        current = current.subarray(count);
        request.respond(count);
      } catch (error) {
        controller.error(error);
        await fail(error);
      }
    },
    async cancel(reason) {
      await chunks?.return(undefined);
      if (model !== undefined) await model.close();
      else await stream.cancel(reason);
    },
  };
  return new ReadableStream(source) as ReadableStream<Uint8Array>;
}

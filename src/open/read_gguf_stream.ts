/**
 * One-pass reading of a GGUF model arriving as a `ReadableStream`: the header, then each
 * tensor's raw bytes in file order, holding a bounded window whatever the model's size.
 *
 * @module
 */
import type { GgufFile, TensorInfo } from "../model/gguf_file.ts";
import type { ByteSource } from "../model/byte_source.ts";
import { abortedError } from "../model/errors.ts";
import { checkOptionKeys, type OptionKeys } from "../model/option_keys.ts";
import { openModel } from "./open_model.ts";
import { READ_OPTION_KEYS, type ReadOptions } from "./resolve_input.ts";

/** Options for {@linkcode readGgufStream}. */
export interface ReadStreamOptions extends ReadOptions {
  /** The largest data chunk handed out, in bytes (default 4 MiB). */
  windowBytes?: number;
}

/** Every key of {@linkcode ReadStreamOptions}, for option checks. */
const READ_STREAM_OPTION_KEYS: OptionKeys<ReadStreamOptions> = {
  ...READ_OPTION_KEYS,
  windowBytes: true,
};

/** One tensor of a stream: its index entry and its bytes, in order. */
export interface StreamedTensor {
  /** The tensor's index entry. */
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

const DEFAULT_WINDOW = 4 << 20;

/**
 * Reads a GGUF model from a stream in one pass: the header first, then each tensor's bytes
 * in file order, holding at most a window of data at a time. Leaving the loop early (or
 * finishing it) releases and cancels the input. One part of a split model is read as the
 * file it is: its header (with its `split.*` keys) and its own tensors.
 *
 * @param stream The model's bytes, in any chunking.
 * @param options `windowBytes`, `maxHeaderBytes`, `lenient`, and a `signal` that cancels
 *   the stream.
 * @returns The header, iterable over the tensors.
 * @throws {GgufError} For an invalid header, `NOT_SEQUENTIAL` when the index is not in
 *   ascending data order; later, `TRUNCATED` if the stream ends early. When the signal
 *   fires, opening or iterating fails with `ABORTED`, the signal's reason as its `cause`.
 *
 * @example
 * ```ts
 * import { readGgufStream } from "gguf-stream";
 * import assert from "node:assert/strict";
 * import { readFile } from "node:fs/promises";
 * const file = await readFile(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const model = await readGgufStream(new Blob([file]).stream()); // or a fetch()'s body
 * let bytes = 0;
 * for await (const tensor of model) {
 *   for await (const chunk of tensor.data) bytes += chunk.length;
 * }
 * assert.equal(bytes, 1_025_024);
 * ```
 */
export async function readGgufStream(
  stream: ReadableStream<Uint8Array>,
  options: ReadStreamOptions = {},
): Promise<GgufStream> {
  checkOptionKeys(options, READ_STREAM_OPTION_KEYS, "readGgufStream()");
  const window = options.windowBytes ?? DEFAULT_WINDOW;
  if (!Number.isSafeInteger(window) || window < 1) {
    throw new TypeError(`windowBytes must be a positive integer, got ${window}`);
  }
  // One file, as it is: a part of a split model hands out its own header and tensors.
  const model = await openModel(stream, { ...options, oneFile: true });
  const header = model.parts[0].header;
  const source = model.parts[0].source;
  return {
    header,
    cancel: () => model.close(),
    async *[Symbol.asyncIterator]() {
      try {
        for (const info of header.tensors) {
          options.signal?.throwIfAborted();
          yield { info, data: tensorChunks(source, info, window, options.signal) };
        }
      } catch (error) {
        throw abortedError(error, options.signal);
      } finally {
        await model.close();
      }
    },
  };
}

async function* tensorChunks(
  source: ByteSource,
  info: TensorInfo,
  window: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  try {
    for (let done = 0; done < info.nbytes; done += window) {
      yield await source.read(info.fileOffset + done, Math.min(window, info.nbytes - done));
    }
  } catch (error) {
    throw abortedError(error, signal);
  }
}

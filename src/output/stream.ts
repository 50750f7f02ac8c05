/**
 * One-pass conversion of a GGUF model arriving as a `ReadableStream` (a fetch body, an
 * object-store read, stdin) into a stream of the converted GGUF file, holding a bounded
 * window whatever the model's size and reading only as fast as the consumer takes the
 * output.
 *
 * @module
 */
import { abortedError } from "../model/errors.ts";
import { checkOptionKeys, type OptionKeys } from "../model/option_keys.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import {
  conversionSummary,
  CONVERT_OPTION_KEYS,
  type ConvertOptions,
  type PreparedConversion,
  prepareMeasuredConversion,
} from "../convert/prepare.ts";
import type { ConversionSums } from "../convert/convert_range.ts";
import { openGgufModel } from "../open/open_model.ts";
import { READ_OPTION_KEYS, type ReadOptions } from "../open/resolve_input.ts";
import { encodeConverted } from "./encode_model.ts";

/** Options for {@linkcode convertStream}. */
export interface ConvertStreamOptions extends ConvertOptions, ReadOptions {
  /**
   * Told the output's size in bytes once its header is made, before its first byte is
   * read: a server can send it as the response's `Content-Length`, so that an answer cut
   * short by a failure cannot pass for a whole one.
   */
  onOutputSize?: (bytes: number) => void;
}

/** Every key of {@linkcode ConvertStreamOptions}, for option checks. */
const CONVERT_STREAM_OPTION_KEYS: OptionKeys<ConvertStreamOptions> = {
  ...CONVERT_OPTION_KEYS,
  ...READ_OPTION_KEYS,
  onOutputSize: true,
};

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
 * @param options Policy, warnings, chunk size, header limit, `lenient`, signal.
 * @returns The converted file's bytes. Reading it fails with the errors of
 *   {@linkcode convertFile}; with `ABORTED`, the signal's reason as its `cause`, when the
 *   signal fires.
 *
 * @example
 * ```ts
 * import { convertStream, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * import { readFile } from "node:fs/promises";
 * const input = await readFile(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * let size = 0;
 * const stream = convertStream(new Blob([input]).stream(), { onOutputSize: (n) => size = n });
 * const output = await new Response(stream).bytes();
 * assert.equal(output.length, size);
 * const converted = await readGguf(output);
 * assert.equal(converted.tensors[2].typeName, "F32"); // was Q4_K
 * ```
 */
export function convertStream(
  stream: ReadableStream<Uint8Array>,
  options: ConvertStreamOptions = {},
): ReadableStream<Uint8Array> {
  checkOptionKeys(options, CONVERT_STREAM_OPTION_KEYS, "convertStream()");
  // The one way the conversion stops early, whether the consumer cancels, the conversion
  // fails or the caller's signal fires: aborting this reaches a header read still pending
  // (the input is cancelled and unlocked) as well as the chunk loop.
  const stopping = new AbortController();
  const userSignal = options.signal;
  const onUserAbort = () => stopping.abort(userSignal!.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });
  if (userSignal?.aborted) onUserAbort();
  const inner = { ...options, signal: stopping.signal };
  let opening = false;
  let model: GgufModel | undefined;
  let chunks: AsyncGenerator<Uint8Array> | undefined;
  let conversion: PreparedConversion | undefined;
  const sums: ConversionSums = { error: 0, reference: 0 };
  /** What is left of the encoder's current chunk (valid until `chunks.next()`). */
  let current: Uint8Array | undefined;
  /** Unregisters the stream from ABANDONED once it has ended, however it ended. */
  const ended = {};
  const stop = async (reason: unknown) => {
    ABANDONED.unregister(ended);
    userSignal?.removeEventListener("abort", onUserAbort);
    stopping.abort(reason);
    if (model !== undefined) await model.close().catch(() => {});
    else if (!opening) await stream.cancel(reason).catch(() => {});
    // Otherwise the abort has cancelled the input the pending open holds.
  };
  const source: UnderlyingByteSource = {
    type: "bytes",
    autoAllocateChunkSize: OUTPUT_READ_BYTES,
    async pull(controller: ReadableByteStreamController) {
      try {
        if (chunks === undefined) {
          opening = true;
          model = await openGgufModel(stream, inner);
          conversion = await prepareMeasuredConversion(model, inner, true);
          options.onOutputSize?.(conversion.header!.fileSize);
          // The encoder reuses its buffers: every byte is copied out below before the next chunk.
          chunks = encodeConverted(model, conversion, { ...inner, sums });
        }
        while (current === undefined || current.length === 0) {
          const { value, done } = await chunks.next();
          if (done) {
            ABANDONED.unregister(ended);
            options.onSummary?.(conversionSummary(conversion!.plan, sums));
            controller.close();
            controller.byobRequest?.respond(0);
            userSignal?.removeEventListener("abort", onUserAbort);
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
        if (stopping.signal.aborted && userSignal?.aborted !== true) return; // cancelled
        controller.error(abortedError(error, userSignal));
        await stop(error);
      }
    },
    async cancel(reason) {
      // Close the input first: a read pending on a stalled input then settles, and the
      // encoder (which may be waiting on it) is finished without waiting for it.
      await stop(reason);
      chunks?.return(undefined).catch(() => {});
    },
  };
  const output = new ReadableStream(source) as ReadableStream<Uint8Array>;
  // An output dropped part-way without cancel() is stopped once it is collected: its worker
  // threads and the input would otherwise stay for the life of the process.
  ABANDONED.register(output, async () => {
    await stop(new Error("the converted stream was dropped unread"));
    await chunks?.return(undefined).catch(() => {});
  }, ended);
  return output;
}

/** Stops the conversions whose output streams were collected before their end. */
const ABANDONED = new FinalizationRegistry<() => Promise<void>>((stopIt) => {
  stopIt().catch(() => {});
});

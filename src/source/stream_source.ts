/**
 * A stream as a forward-only {@linkcode ByteSource}: the header is read through growing
 * prefixes, then tensor data strictly in order; reading an offset already passed is a
 * `NOT_SEQUENTIAL` error.
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import { StreamBuffer } from "./stream_buffer.ts";

/** A forward-only source over a stream, with access to the front of the stream. */
export interface StreamSource extends ByteSource {
  /** Always `"stream"`: read forward only. */
  readonly kind: "stream";
  /**
   * The first `length` bytes of the stream (fewer if it ends sooner), kept buffered;
   * only before any `read()`.
   */
  prefix(length: number): Promise<{ bytes: Uint8Array; complete: boolean }>;
  /** Stops reading and cancels the stream (safe to call more than once). */
  close(reason?: unknown): Promise<void>;
}

/**
 * Wraps a stream as a forward-only source; `size` is unknown (`Number.MAX_SAFE_INTEGER`).
 *
 * @param stream The bytes, in any chunking; a byte stream is read with a BYOB reader.
 * @param signal Cancels the stream when it fires, so a read pending on a stalled input
 *   settles at once.
 * @returns The source; `close()` cancels the stream.
 *
 * @example
 * ```ts
 * import { openStreamSource } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const source = openStreamSource(new Blob([new Uint8Array([1, 2, 3, 4])]).stream());
 * assert.deepEqual([...(await source.prefix(2)).bytes], [1, 2]);
 * assert.deepEqual([...await source.read(3, 1)], [4]);
 * await assert.rejects(source.read(0, 1), { code: "NOT_SEQUENTIAL" });
 * await source.close();
 * ```
 */
export function openStreamSource(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): StreamSource {
  const buffer = new StreamBuffer(stream);
  const onAbort = () => void buffer.cancel(signal!.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  return {
    kind: "stream",
    size: Number.MAX_SAFE_INTEGER,
    view: () => undefined,
    async prefix(length) {
      await buffer.fill(length);
      const count = Math.min(length, buffer.available);
      return { bytes: buffer.peek(count), complete: buffer.ended && count === buffer.available };
    },
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
    close(reason?: unknown) {
      signal?.removeEventListener("abort", onAbort);
      return buffer.cancel(reason);
    },
  };
}

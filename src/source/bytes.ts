/**
 * A byte source over a `Uint8Array` already in memory.
 *
 * @module
 */
import { type ByteSource, checkRange } from "../model/byte_source.ts";

/**
 * Wraps a `Uint8Array` as a {@linkcode ByteSource}; views are subarrays, nothing is copied.
 *
 * @param bytes The whole file's bytes (any `byteOffset` is fine).
 * @returns A source whose `kind` is `"bytes"`.
 *
 * @example
 * ```ts
 * import { bytesSource } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const source = bytesSource(new Uint8Array([1, 2, 3, 4]));
 * assert.deepEqual([...source.view(1, 2)!], [2, 3]);
 * ```
 */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    kind: "bytes",
    size: bytes.length,
    read(offset, length, into) {
      checkRange(bytes.length, offset, length);
      const range = bytes.subarray(offset, offset + length);
      if (into === undefined) return Promise.resolve(range);
      into.set(range);
      return Promise.resolve(into.subarray(0, length));
    },
    view(offset, length) {
      checkRange(bytes.length, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    close: () => Promise.resolve(),
  };
}

/**
 * A byte source over a `Blob` — in a browser, the `File` a person picked — read by
 * slices, so a model of any size is inspected without loading it and without uploading it.
 *
 * @module
 */
import { type ByteSource, checkRange } from "../model/byte_source.ts";
import { formatInteger, GgufError } from "../model/errors.ts";

/**
 * Wraps a `Blob` (or `File`) as a random-access {@linkcode ByteSource}: each read is one
 * `blob.slice(offset, offset + length).arrayBuffer()`.
 *
 * @param blob The model's bytes.
 * @returns A source whose `kind` is `"blob"`; `view()` always returns `undefined`.
 *
 * @example
 * ```ts
 * import { blobSource } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const source = blobSource(new Blob([new Uint8Array([71, 71, 85, 70, 3])]));
 * assert.equal(source.kind, "blob");
 * assert.deepEqual([...await source.read(1, 3)], [71, 85, 70]);
 * ```
 */
export function blobSource(blob: Blob): ByteSource {
  const size = blob.size;
  return {
    kind: "blob",
    size,
    async read(offset, length, into) {
      checkRange(size, offset, length);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new GgufError(
          "IO",
          `Cannot read the file at byte ${
            formatInteger(offset)
          }: ${reason} (was it changed or removed?)`,
          offset,
          { cause },
        );
      }
      if (bytes.length !== length) {
        throw new GgufError(
          "TRUNCATED",
          `Cannot read the file at byte ${formatInteger(offset)}: ${
            formatInteger(length)
          } bytes asked for, ${formatInteger(bytes.length)} read (was it changed?)`,
          offset,
        );
      }
      if (into === undefined) return bytes;
      into.set(bytes);
      return into.subarray(0, length);
    },
    view: () => undefined,
    close: () => Promise.resolve(),
  };
}

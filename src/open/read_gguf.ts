/**
 * Reads a GGUF header (metadata and tensor index) from any input, touching only the bytes
 * the header occupies.
 *
 * @module
 */
import { abortedError } from "../model/errors.ts";
import { checkOptionKeys } from "../model/option_keys.ts";
import type { GgufFile } from "../model/gguf_file.ts";
import {
  type GgufInput,
  READ_OPTION_KEYS,
  type ReadOptions,
  readSourceHeader,
  resolveInput,
} from "./resolve_input.ts";

/** Options for {@linkcode readGguf}. */
export type ReadGgufOptions = ReadOptions;

/**
 * Reads the header, metadata and tensor index of a GGUF file, without its tensor data.
 *
 * @param input A path, `file:` URL, `ByteSource`, the file's bytes, or a stream of
 *   them (only the header is read; the rest of the stream is cancelled).
 * @param options `lenient` to accept defects ggml refuses; `access` to force mmap or reads;
 *   a `signal` to stop reading.
 * @returns The parsed header.
 * @throws {GgufError} When the file is not valid GGUF (docs/errors.md lists the codes);
 *   `ABORTED`, with the signal's reason as its `cause`, when the signal fires.
 *
 * @example
 * ```ts
 * import { readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * // A minimal GGUF v3 file: magic, version, 0 tensors, 0 metadata entries.
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const file = await readGguf(bytes);
 * assert.equal(file.version, 3);
 * assert.equal(file.tensors.length, 0);
 * assert.equal(file.dataOffset, 32);
 * ```
 */
export async function readGguf(
  input: GgufInput,
  options: ReadGgufOptions = {},
): Promise<GgufFile> {
  checkOptionKeys(options, READ_OPTION_KEYS, "readGguf()");
  try {
    const { source, owned } = await resolveInput(input, options);
    try {
      return await readSourceHeader(source, options);
    } finally {
      if (owned) await source.close();
    }
  } catch (error) {
    throw abortedError(error, options.signal);
  }
}

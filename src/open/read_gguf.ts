/**
 * Reads a GGUF header (metadata and tensor index) from a path, a byte source or bytes,
 * touching only the bytes the header occupies.
 *
 * @module
 */
import { NeedMoreBytes } from "../parse/cursor.ts";
import { parseGgufHeader, type ParseOptions } from "../parse/parse_header.ts";
import { readStreamHeader } from "../output/stream.ts";
import type { ByteSource } from "../model/byte_source.ts";
import { bytesSource } from "../source/bytes.ts";
import { openByteSource, type OpenOptions } from "../source/open_source.ts";
import type { GgufFile } from "../model/gguf_file.ts";

/**
 * Where a GGUF file comes from: a path, a `file:` URL, an open source, its bytes, or a
 * `ReadableStream` of its bytes (read once, forward only).
 */
export type GgufInput = string | URL | ByteSource | Uint8Array | ReadableStream<Uint8Array>;

/** Options for {@linkcode readGguf}. */
export interface ReadGgufOptions extends ParseOptions, OpenOptions {}

/** First read for sources that must copy: most headers fit. */
const FIRST_READ = 1 << 20;
/** First view for mapped sources: mapping more costs nothing until touched. */
const FIRST_VIEW = 1 << 26;

/**
 * Resolves an input to a byte source; `owned` says whether the caller must close it.
 */
export async function resolveSource(
  input: GgufInput,
  options: OpenOptions = {},
): Promise<{ source: ByteSource; owned: boolean }> {
  if (input instanceof Uint8Array) return { source: bytesSource(input), owned: true };
  if (input instanceof ReadableStream) {
    throw new TypeError("A ReadableStream has no random access: open it with openGgufStream()");
  }
  if (typeof input === "string" || input instanceof URL) {
    return { source: await openByteSource(input, options), owned: true };
  }
  if (typeof input?.read !== "function" || typeof input?.size !== "number") {
    throw new TypeError("Expected a path, a file: URL, a ByteSource or a Uint8Array");
  }
  return { source: input, owned: false };
}

/**
 * Parses the header of an open source, reading a growing prefix until the whole
 * header and tensor index fit.
 */
export async function readHeader(
  source: ByteSource,
  options: ParseOptions = {},
): Promise<GgufFile> {
  const first = source.view(0, 0) === undefined ? FIRST_READ : FIRST_VIEW;
  let length = Math.min(source.size, first);
  for (;;) {
    const bytes = source.view(0, length) ?? await source.read(0, length);
    try {
      return parseGgufHeader(bytes, length === source.size, source.size, options);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      length = Math.min(source.size, Math.max(length * 4, error.end));
    }
  }
}

/**
 * Reads the header, metadata and tensor index of a GGUF file, without its tensor data.
 *
 * @param input A path, `file:` URL, {@linkcode ByteSource}, the file's bytes, or a stream of
 *   them (only the header is read; the rest of the stream is cancelled).
 * @param options `lenient` to accept defects ggml refuses; `access` to force mmap or reads.
 * @returns The parsed header.
 * @throws {GgufError} When the file is not valid GGUF (see the error codes in the README).
 *
 * @example
 * ```ts
 * import { readGguf } from "../../mod.ts";
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
  if (input instanceof ReadableStream) return await readStreamHeader(input, options);
  const { source, owned } = await resolveSource(input, options);
  try {
    return await readHeader(source, options);
  } finally {
    if (owned) await source.close();
  }
}

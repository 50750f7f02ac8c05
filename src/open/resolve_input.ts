/**
 * The one place that tells inputs apart: a path, a `file:` URL, bytes, a
 * {@linkcode ByteSource} or a `ReadableStream` becomes a byte source, and its header is
 * read through the one grow-and-retry reader.
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import type { GgufFile } from "../model/gguf_file.ts";
import type { ParseOptions } from "../format/parse_header.ts";
import { readGrowingHeader } from "../format/read_header.ts";
import { bytesSource } from "../source/bytes.ts";
import { openByteSource, type OpenOptions, toPath } from "../source/open_source.ts";
import { openStreamSource, type StreamSource } from "../source/stream_source.ts";

/**
 * Where a GGUF model comes from: a path, a `file:` URL, an open source, its bytes, or a
 * `ReadableStream` of its bytes (read once, forward only).
 */
export type GgufInput = string | URL | ByteSource | Uint8Array | ReadableStream<Uint8Array>;

/** Options for opening an input and reading its header. */
export interface ReadOptions extends ParseOptions, OpenOptions {
  /** For a stream: the most bytes its header may take before it is refused (default 256 MiB). */
  maxHeaderBytes?: number;
}

/** An input made into a source. */
export interface ResolvedInput {
  source: ByteSource | StreamSource;
  /** Whether the caller must close it (`false` for a caller's own source). */
  owned: boolean;
  /** The file's path, when the input named one. */
  path: string | undefined;
}

/** First read for sources that must copy: most headers fit. */
const FIRST_READ = 1 << 20;
/** First view for mapped sources: mapping more costs nothing until touched. */
const FIRST_VIEW = 1 << 26;
/** First read of a stream's header. */
const FIRST_STREAM_READ = 1 << 16;
/** The default cap on a stream's header. */
export const DEFAULT_MAX_HEADER_BYTES = 256 << 20;

/**
 * Makes any input a byte source.
 *
 * @param input A path, `file:` URL, {@linkcode ByteSource}, bytes or a stream.
 * @param options Access options.
 * @returns The source, whether the caller owns it, and the path if any.
 * @throws {TypeError} For anything else.
 * @throws {GgufError} `IO` when a file cannot be opened.
 *
 * @example
 * ```ts
 * import { resolveInput } from "./resolve_input.ts";
 * import assert from "node:assert/strict";
 * const { source, owned } = await resolveInput(new Uint8Array(4));
 * assert.equal(source.kind, "bytes");
 * assert.equal(owned, true);
 * ```
 */
export async function resolveInput(
  input: GgufInput,
  options: OpenOptions = {},
): Promise<ResolvedInput> {
  if (input instanceof Uint8Array) {
    return { source: bytesSource(input), owned: true, path: undefined };
  }
  if (input instanceof ReadableStream) {
    return { source: openStreamSource(input), owned: true, path: undefined };
  }
  if (typeof input === "string" || input instanceof URL) {
    const path = toPath(input);
    return { source: await openByteSource(path, options), owned: true, path };
  }
  if (typeof input?.read !== "function" || typeof input?.size !== "number") {
    throw new TypeError(
      "Expected a path, a file: URL, a ByteSource, a Uint8Array or a ReadableStream",
    );
  }
  return { source: input, owned: false, path: undefined };
}

/** Whether a source is a forward-only stream. */
export function isStreamSource(source: ByteSource): source is StreamSource {
  return source.kind === "stream" && typeof (source as StreamSource).prefix === "function";
}

/**
 * Reads the header of any source, touching only the bytes it occupies.
 *
 * @param source A source from {@linkcode resolveInput}.
 * @param options Parse options and the stream header cap.
 * @returns The parsed header.
 * @throws {GgufError} When the header is not valid GGUF, or a stream's header passes
 *   `maxHeaderBytes` (`LIMIT_EXCEEDED`).
 *
 * @example
 * ```ts
 * import { readSourceHeader, resolveInput } from "./resolve_input.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const { source } = await resolveInput(new Blob([bytes]).stream());
 * assert.equal((await readSourceHeader(source)).version, 3);
 * await source.close();
 * ```
 */
export function readSourceHeader(
  source: ByteSource,
  options: ReadOptions = {},
): Promise<GgufFile> {
  if (isStreamSource(source)) {
    const max = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new TypeError(`maxHeaderBytes must be a positive integer, got ${max}`);
    }
    return readGrowingHeader((length) => source.prefix(length), {
      ...options,
      first: FIRST_STREAM_READ,
      max,
      maxName: "maxHeaderBytes",
    });
  }
  const size = source.size;
  return readGrowingHeader(async (length) => {
    const bytes = source.view(0, length) ?? await source.read(0, length);
    return { bytes, complete: length === size };
  }, {
    ...options,
    first: source.view(0, 0) === undefined ? FIRST_READ : FIRST_VIEW,
    max: size,
    maxName: "the file's size",
    totalSize: size,
  });
}

/**
 * The one place that tells inputs apart: a path, a `file:` URL, an `http:`/`https:` URL,
 * bytes, a `Blob`, a {@linkcode ByteSource} or a `ReadableStream` becomes a byte source,
 * and its header is read through the one grow-and-retry reader.
 *
 * An HTTP(S) URL is read one of two ways, chosen by the `remote` option: `"range"` (the
 * default: `Range` requests for only the bytes asked for — a header read costs one or two
 * requests whatever the model's size) or `"stream"` (one `GET` read once, forward: what
 * conversions use, since they read every byte in order anyway).
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import { abortedError } from "../model/errors.ts";
import type { GgufFile } from "../model/gguf_file.ts";
import type { OptionKeys } from "../model/option_keys.ts";
import { PARSE_OPTION_KEYS, type ParseOptions } from "../format/parse_header.ts";
import { readGrowingHeader } from "../format/read_header.ts";
import { blobSource } from "../source/blob.ts";
import { bytesSource } from "../source/bytes.ts";
import { HTTP_OPTION_KEYS, type HttpOptions, openHttpRangeSource } from "../source/http_range.ts";
import { openDeferredHttpStream, openHttpStream } from "../source/http_stream.ts";
import {
  OPEN_OPTION_KEYS,
  openByteSource,
  type OpenOptions,
  toPath,
} from "../source/open_source.ts";
import { openStreamSource, type StreamSource } from "../source/stream_source.ts";

/**
 * Where a GGUF model comes from: a path, a `file:` URL, an `http:`/`https:` URL (a string
 * or a `URL`), an open source, its bytes, a `Blob` (a browser's `File`), or a
 * `ReadableStream` of its bytes (read once, forward only).
 */
export type GgufInput =
  | string
  | URL
  | ByteSource
  | Uint8Array
  | Blob
  | ReadableStream<Uint8Array>;

/**
 * How an `http:`/`https:` URL is read: `"range"` fetches only the bytes asked for (header
 * reads, a few rows); `"stream"` fetches the whole file in one request, read forward once.
 */
export type RemoteMode = "range" | "stream";

/** How an input is opened: file access, and for an HTTP(S) URL how it is fetched. */
export interface ResolveOptions extends OpenOptions, HttpOptions {
  /**
   * How an HTTP(S) URL is read (default `"range"`; conversions default to `"stream"`). A
   * stream whose tensor data is not in index order is reopened by ranges.
   */
  remote?: RemoteMode;
  /**
   * With `remote: "stream"`: read the header by `Range` requests and send the `GET` for
   * the rest only when the data is first read. The parts after the first of a split
   * model are opened so: they wait their turn without an open response that a server's
   * idle timeout would close.
   */
  deferBody?: boolean;
}

/** Options for opening an input and reading its header. */
export interface ReadOptions extends ParseOptions, ResolveOptions {
  /** For a stream: the most bytes its header may take before it is refused (default 256 MiB). */
  maxHeaderBytes?: number;
  /**
   * Stops opening and reading: a stream input is cancelled at once. The operation then
   * fails with a `GgufError` `ABORTED` whose `cause` is the signal's reason.
   */
  signal?: AbortSignal;
}

/** Every key of {@linkcode ReadOptions}, for option checks. */
export const READ_OPTION_KEYS: OptionKeys<ReadOptions> = {
  ...PARSE_OPTION_KEYS,
  ...OPEN_OPTION_KEYS,
  ...HTTP_OPTION_KEYS,
  remote: true,
  deferBody: true,
  maxHeaderBytes: true,
  signal: true,
};

/** An input made into a source. */
export interface ResolvedInput {
  /** The source to read the model from. */
  source: ByteSource | StreamSource;
  /** Whether the caller must close it (`false` for a caller's own source). */
  owned: boolean;
  /** The file's path, when the input named one. */
  path: string | undefined;
  /** The URL, when the input was an `http:`/`https:` URL. */
  url: string | undefined;
}

/**
 * The `http:`/`https:` URL an input names, if it names one: a `URL` of that protocol, or
 * a string starting with `http://` or `https://`.
 *
 * @param input Any input.
 * @returns The URL, or `undefined` for a path, a `file:` URL or anything else.
 *
 * @example
 * ```ts
 * import { remoteUrl } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * assert.equal(remoteUrl("https://example.com/m.gguf")?.pathname, "/m.gguf");
 * assert.equal(remoteUrl("models/m.gguf"), undefined);
 * assert.equal(remoteUrl(new URL("file:///m.gguf")), undefined);
 * ```
 */
export function remoteUrl(input: unknown): URL | undefined {
  if (input instanceof URL) {
    return input.protocol === "http:" || input.protocol === "https:" ? input : undefined;
  }
  return typeof input === "string" && /^https?:\/\//i.test(input) ? new URL(input) : undefined;
}

/** First read of a file's header: most headers fit. */
const FIRST_READ = 1 << 20;
/** First read of a stream's header. */
const FIRST_STREAM_READ = 1 << 16;
/** The default cap on a stream's header. */
export const DEFAULT_MAX_HEADER_BYTES = 256 << 20;

/**
 * Makes any input a byte source.
 *
 * @param input A path, `file:` or `http(s):` URL, {@linkcode ByteSource}, bytes, a `Blob`
 *   or a stream.
 * @param options Access options; for a URL, `remote` and the HTTP options.
 * @returns The source, whether the caller owns it, and the path or URL if any.
 * @throws {TypeError} For anything else.
 * @throws {GgufError} `IO` when a file cannot be opened or a URL cannot be fetched.
 *
 * @example
 * ```ts
 * import { resolveInput } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const { source, owned } = await resolveInput(new Uint8Array(4));
 * assert.equal(source.kind, "bytes");
 * assert.equal(owned, true);
 * ```
 */
export async function resolveInput(
  input: GgufInput,
  options: ResolveOptions = {},
): Promise<ResolvedInput> {
  const none = { path: undefined, url: undefined };
  if (input instanceof Uint8Array) {
    return { source: bytesSource(input), owned: true, ...none };
  }
  if (input instanceof ReadableStream) {
    return { source: openStreamSource(input, options.signal), owned: true, ...none };
  }
  const url = remoteUrl(input);
  if (url !== undefined) {
    const remote = options.remote ?? "range";
    if (remote !== "range" && remote !== "stream") {
      throw new TypeError(`remote must be "range" or "stream", not ${JSON.stringify(remote)}`);
    }
    const source = remote === "range"
      ? await openHttpRangeSource(url, options)
      : options.deferBody === true
      ? await openDeferredHttpStream(url, options)
      : openStreamSource(await openHttpStream(url, options), options.signal);
    return { source, owned: true, path: undefined, url: url.href };
  }
  if (typeof input === "string" || input instanceof URL) {
    const path = toPath(input);
    return { source: await openByteSource(path, options), owned: true, path, url: undefined };
  }
  if (input instanceof Blob) {
    return { source: blobSource(input), owned: true, ...none };
  }
  if (typeof input?.read !== "function" || typeof input?.size !== "number") {
    throw new TypeError(
      "Expected a path, a file: or http(s): URL, a ByteSource, a Uint8Array, a Blob or a ReadableStream",
    );
  }
  return { source: input, owned: false, ...none };
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
 *   `maxHeaderBytes` (`LIMIT_EXCEEDED`); `ABORTED`, with the signal's reason as its
 *   `cause`, when the signal fires.
 *
 * @example
 * ```ts
 * import { readSourceHeader, resolveInput } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const { source } = await resolveInput(new Blob([bytes]).stream());
 * assert.equal((await readSourceHeader(source)).version, 3);
 * await source.close();
 * ```
 */
export async function readSourceHeader(
  source: ByteSource,
  options: ReadOptions = {},
): Promise<GgufFile> {
  try {
    options.signal?.throwIfAborted();
    return await readHeaderOf(source, options);
  } catch (error) {
    throw abortedError(error, options.signal);
  }
}

function readHeaderOf(source: ByteSource, options: ReadOptions): Promise<GgufFile> {
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
      inputName: "the stream",
    });
  }
  const size = source.size;
  // The header is parsed from a copy, never from a mapping: a file truncated while it is
  // parsed then ends in a clean TRUNCATED instead of a SIGBUS.
  return readGrowingHeader(async (length) => {
    const bytes = await source.read(0, length);
    return { bytes, complete: length === size };
  }, {
    ...options,
    // An HTTP source fetched its first bytes when it opened: start with exactly those.
    first: source.kind === "http" ? options.firstRequestBytes ?? FIRST_READ : FIRST_READ,
    max: size,
    maxName: "the file's size",
    totalSize: size,
  });
}

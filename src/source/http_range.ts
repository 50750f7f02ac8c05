/**
 * A byte source over HTTP(S) `Range` requests: a model is read where it lies, fetching
 * only the bytes asked for. The first request asks for the first MiB, which gives both
 * the start of the header (most headers fit) and the file's size; that prefix is kept, so
 * a header that needs more fetches only the missing tail. Works wherever `fetch` does:
 * Deno, Bun, Node, browsers and edge workers.
 *
 * @module
 */
import { type ByteSource, checkRange } from "../model/byte_source.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import { describeUrl } from "../model/describe_url.ts";
import type { OptionKeys } from "../model/option_keys.ts";
import { readCappedBody } from "./capped_body.ts";
import type { RequestHeaders } from "./idle_fetch.ts";
import {
  type FetchFunction,
  httpUrl,
  isTransientStatus,
  requestSettings,
  type RetryOptions,
  send,
  transientStatus,
  withRetries,
} from "./http_request.ts";
import {
  byteRange,
  changedError,
  htmlPageError,
  isHtmlResponse,
  looksLikeHtml,
  parseContentRange,
  statusError,
  type Validators,
  validatorsDiffer,
  validatorsOf,
} from "./http_response.ts";

export type { FetchFunction, RetryOptions };

/** How a model is fetched over HTTP(S). */
export interface HttpOptions {
  /** The `fetch` to call (default `globalThis.fetch`). */
  fetch?: FetchFunction;
  /** Headers sent with every request, e.g. `{ Authorization: "Bearer …" }` for a gated model. */
  headers?: RequestHeaders;
  /**
   * Bytes the first range request asks for (default 1 MiB): the header is parsed from
   * them, and a longer header fetches only what is missing.
   */
  firstRequestBytes?: number;
  /** Aborts pending requests. */
  signal?: AbortSignal;
  /**
   * How a reset connection, a `5xx` or a `429` is retried (default: 4 attempts in all,
   * waits from 0.5 s doubling, at most 30 s, a server's `Retry-After` honoured up to it).
   */
  retry?: RetryOptions;
  /** Redirects followed before giving up (default 10); later requests go to the final URL. */
  maxRedirects?: number;
  /**
   * Milliseconds a server may send nothing — no response to a request, or no byte of a
   * body being read — before the request fails (default 30 000; 0: no limit). It bounds
   * silence, not the transfer: a slow but steady download is never cut off. A silent
   * request is closed and retried as a reset one is (`retry`); once the attempts are
   * spent it is a `GgufError` `IO` saying the server sent nothing for that long.
   */
  idleTimeout?: number;
}

/** The first request's length: most GGUF headers fit in it. */
/** Every key of {@linkcode HttpOptions}, for option checks. */
export const HTTP_OPTION_KEYS: OptionKeys<HttpOptions> = {
  fetch: true,
  headers: true,
  firstRequestBytes: true,
  signal: true,
  retry: true,
  maxRedirects: true,
  idleTimeout: true,
};

export const DEFAULT_FIRST_REQUEST_BYTES = 1 << 20;

/** What a range source learnt from its first response, for a stream of the same file. */
export interface HttpPin {
  /** The URL after redirects: every later request goes there. */
  url: URL;
  /** The headers sent there (credentials dropped after a redirect to another origin). */
  headers: Headers;
  /** The file's size. */
  size: number;
  /** Its `ETag` and `Last-Modified`, which must not change while it is read. */
  validators: Validators;
}

/** Errors that say a server ignores Range requests (it sent the whole file). */
const IGNORES_RANGES = new WeakSet<object>();

/**
 * Whether an error from {@linkcode openHttpRangeSource} says the server ignores `Range`
 * (so the file can only be read as one stream).
 *
 * @param error What was thrown.
 * @returns `true` when the server answered a range request with the whole file.
 *
 * @example
 * ```ts
 * import { ignoresRanges } from "./http_range.ts";
 * import { openHttpRangeSource } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const fetch = () => Promise.resolve(new Response(new Uint8Array(8))); // 200, no ranges
 * const error = await openHttpRangeSource("https://example.com/m.gguf", { fetch })
 *   .catch((e) => e);
 * assert.equal(ignoresRanges(error), true);
 * ```
 */
export function ignoresRanges(error: unknown): boolean {
  return typeof error === "object" && error !== null && IGNORES_RANGES.has(error);
}

export { describeUrl };

/**
 * Opens a model at an `http:` or `https:` URL for random access by `Range` requests. The
 * first request (`Range: bytes=0-…`, `firstRequestBytes` long) tells the size and is kept
 * as a prefix: reads inside it cost nothing, a read from byte 0 past it fetches only the
 * tail, and any other read is one request for exactly its bytes, read into a buffer of
 * that size (a server that sends more is refused as soon as it does). Redirects are
 * followed up to `maxRedirects` and the final URL is kept for later requests; a reset
 * connection, a server that sends nothing for `idleTimeout` (30 s), a `5xx` or a `429` is
 * retried (`retry`). Every response must agree on the size and, when the server sends
 * them, the `ETag` and `Last-Modified`, so a file replaced while it is read is an error,
 * never a mix of two files.
 *
 * @param url The model's URL.
 * @param options A `fetch` of your own, headers (tokens), the first request's length, a
 *   signal, retries, redirects, the idle timeout.
 * @returns A source whose `kind` is `"http"`; `view()` always returns `undefined`.
 * @throws {GgufError} `IO` when the request fails (after its retries: a network failure,
 *   a server silent for `idleTimeout`), the server answers with an error status, sends an
 *   HTML page or more bytes than asked, does not honour `Range` requests (a `200` with the
 *   whole file), or the file changes meanwhile.
 * @throws {TypeError} For a URL that is not `http:` or `https:`.
 *
 * @example Reading a model's first bytes over HTTP
 * ```ts
 * import { openHttpRangeSource } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const file = new Uint8Array([71, 71, 85, 70, 3, 0, 0, 0]);
 * // A fetch that answers range requests from memory, as a server would.
 * const fetch = (_url: URL, init: RequestInit) => {
 *   const [, start, end] = new Headers(init.headers).get("range")!.match(/(\d+)-(\d+)/)!;
 *   const last = Math.min(Number(end), file.length - 1);
 *   return Promise.resolve(new Response(file.slice(Number(start), last + 1), {
 *     status: 206,
 *     headers: { "content-range": `bytes ${start}-${last}/${file.length}` },
 *   }));
 * };
 * const source = await openHttpRangeSource("https://example.com/m.gguf", { fetch });
 * assert.equal(source.size, 8);
 * assert.deepEqual([...await source.read(0, 4)], [71, 71, 85, 70]);
 * await source.close();
 * ```
 */
export async function openHttpRangeSource(
  url: string | URL,
  options: HttpOptions = {},
): Promise<ByteSource> {
  return (await openHttpRange(url, options)).source;
}

/**
 * {@linkcode openHttpRangeSource}, with what its first response pinned (the final URL,
 * the size, the validators) so that a stream of the same file can check it is the same.
 *
 * @param url The model's URL.
 * @param options As for {@linkcode openHttpRangeSource}.
 * @returns The source and its pin.
 * @throws {GgufError} As {@linkcode openHttpRangeSource}.
 * @throws {TypeError} For a URL that is not `http:` or `https:`, or a bad option.
 *
 * @example
 * ```ts
 * import { openHttpRange } from "./http_range.ts";
 * import assert from "node:assert/strict";
 * const fetch = () =>
 *   Promise.resolve(new Response(new Uint8Array(4), {
 *     status: 206,
 *     headers: { "content-range": "bytes 0-3/4", etag: '"v1"' },
 *   }));
 * const { source, pin } = await openHttpRange("https://example.com/m.gguf", { fetch });
 * assert.deepEqual([pin.size, pin.validators.etag], [4, '"v1"']);
 * await source.close();
 * ```
 */
export async function openHttpRange(
  url: string | URL,
  options: HttpOptions = {},
): Promise<{ source: ByteSource; pin: HttpPin }> {
  const target = httpUrl(url);
  const where = describeUrl(target);
  const settings = requestSettings(options);
  const firstBytes = options.firstRequestBytes ?? DEFAULT_FIRST_REQUEST_BYTES;
  if (!Number.isSafeInteger(firstBytes) || firstBytes < 1) {
    throw new TypeError(`firstRequestBytes must be a positive integer, got ${firstBytes}`);
  }
  const base = new Headers(options.headers);
  // Ranges count bytes of the stored file: ask for it as it is stored (browsers ignore this).
  base.set("accept-encoding", "identity");
  const ranged = (headers: Headers, start: number, end: number) => {
    const copy = new Headers(headers);
    copy.set("range", `bytes=${start}-${end - 1}`);
    return copy;
  };

  const refuse = async (response: Response, start: number, end: number): Promise<never> => {
    const range = byteRange(start, end - 1);
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw statusError(where, response, ` (${range})`);
    }
    // The whole file, or a page: one chunk tells which, and the rest is never read.
    let html = isHtmlResponse(response);
    const reader = response.body?.getReader();
    if (!html && reader !== undefined) {
      const chunk = await reader.read().catch(() => undefined);
      html = chunk?.value !== undefined && looksLikeHtml(chunk.value);
    }
    await reader?.cancel().catch(() => {});
    if (html) throw htmlPageError(where);
    const length = response.headers.get("content-length");
    const error = new GgufError(
      "IO",
      `Cannot read ${where} by ranges: asked for ${range}, the server sent the whole file (200 OK${
        length === null ? "" : `, ${formatInteger(Number(length))} bytes`
      }): it does not honour Range requests. Download the file, or convert it in one pass (which reads it as one stream)`,
    );
    IGNORES_RANGES.add(error);
    throw error;
  };

  // The first request: the prefix, and the file's size from Content-Range.
  const first = await withRetries(`Cannot fetch ${where}`, settings, async () => {
    const sent = await send(target, ranged(base, 0, firstBytes), settings);
    const response = sent.response;
    if (isTransientStatus(response.status)) throw await transientStatus(response);
    const range = parseContentRange(response.headers.get("content-range"));
    const pinned = { url: sent.url, headers: sent.headers, validators: validatorsOf(response) };
    if (
      (response.status === 416 && range?.total === 0) ||
      (response.status === 200 && response.headers.get("content-length") === "0")
    ) {
      await response.body?.cancel().catch(() => {});
      return { ...pinned, size: 0, prefix: new Uint8Array(0) };
    }
    if (response.status !== 206) return await refuse(response, 0, firstBytes);
    if (isHtmlResponse(response)) {
      await response.body?.cancel().catch(() => {});
      throw htmlPageError(where);
    }
    if (
      range === undefined || range.start !== 0 || range.total === undefined ||
      range.end >= firstBytes || range.end >= range.total
    ) {
      await response.body?.cancel().catch(() => {});
      throw new GgufError(
        "IO",
        `Cannot read ${where} by ranges: asked for ${
          byteRange(0, firstBytes - 1)
        }, the server's Content-Range (${
          response.headers.get("content-range") ?? "none"
        }) does not give those bytes and the file's size`,
      );
    }
    const prefix = await readCappedBody(response, range.end + 1, `Cannot read ${where}`, 0);
    if (looksLikeHtml(prefix)) throw htmlPageError(where);
    return { ...pinned, size: range.total, prefix };
  });
  const size = first.size;
  let prefix = first.prefix;
  const pin: HttpPin = {
    url: first.url,
    headers: first.headers,
    size,
    validators: first.validators,
  };

  /** Fetches bytes `start` to `end` (exclusive) in one request, retried when it fails. */
  const fetchRange = (start: number, end: number): Promise<Uint8Array> =>
    withRetries(`Cannot read ${where} at byte ${formatInteger(start)}`, settings, async () => {
      const { response } = await send(pin.url, ranged(pin.headers, start, end), settings);
      if (isTransientStatus(response.status)) throw await transientStatus(response);
      if (response.status !== 206) return await refuse(response, start, end);
      const range = parseContentRange(response.headers.get("content-range"));
      if (range?.total !== size || validatorsDiffer(pin.validators, validatorsOf(response))) {
        await response.body?.cancel().catch(() => {});
        throw changedError(where, start);
      }
      if (range.start !== start || range.end !== end - 1) {
        await response.body?.cancel().catch(() => {});
        throw new GgufError(
          "IO",
          `Cannot read ${where}: asked for ${byteRange(start, end - 1)}, the server sent ${
            byteRange(range.start, range.end)
          }`,
          start,
        );
      }
      return await readCappedBody(response, end - start, `Cannot read ${where}`, start);
    });

  const source: ByteSource = {
    kind: "http",
    size,
    async read(offset, length, into) {
      checkRange(size, offset, length);
      const end = offset + length;
      let bytes: Uint8Array;
      if (end <= prefix.length) {
        bytes = prefix.subarray(offset, end);
      } else if (offset === 0) {
        // A header longer than the prefix: fetch only the tail, and keep it.
        const tail = await fetchRange(prefix.length, end);
        const grown = new Uint8Array(end);
        grown.set(prefix);
        grown.set(tail, prefix.length);
        prefix = grown;
        bytes = grown;
      } else if (offset < prefix.length) {
        const tail = await fetchRange(prefix.length, end);
        bytes = new Uint8Array(length);
        bytes.set(prefix.subarray(offset));
        bytes.set(tail, prefix.length - offset);
      } else {
        bytes = length === 0 ? new Uint8Array(0) : await fetchRange(offset, end);
      }
      if (into === undefined) return bytes;
      into.set(bytes);
      return into.subarray(0, length);
    },
    view: () => undefined,
    close() {
      prefix = new Uint8Array(0);
      return Promise.resolve();
    },
  };
  return { source, pin };
}

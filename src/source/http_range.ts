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

/** A `fetch`: the runtime's, or a caller's wrapper (auth, retries, a proxy, counting). */
export type FetchFunction = (input: URL, init: RequestInit) => Promise<Response>;

/** How a model is fetched over HTTP(S). */
export interface HttpOptions {
  /** The `fetch` to call (default `globalThis.fetch`). */
  fetch?: FetchFunction;
  /** Headers sent with every request, e.g. `{ Authorization: "Bearer …" }` for a gated model. */
  headers?: HeadersInit;
  /**
   * Bytes the first range request asks for (default 1 MiB): the header is parsed from
   * them, and a longer header fetches only what is missing.
   */
  firstRequestBytes?: number;
  /** Aborts pending requests. */
  signal?: AbortSignal;
}

/** The first request's length: most GGUF headers fit in it. */
export const DEFAULT_FIRST_REQUEST_BYTES = 1 << 20;

/**
 * A URL as error messages show it: without credentials, query or fragment, which may
 * hold tokens.
 *
 * @param url The URL.
 * @returns Its origin and path.
 *
 * @example
 * ```ts
 * import { describeUrl } from "./http_range.ts";
 * import assert from "node:assert/strict";
 * const url = new URL("https://user:secret@example.com/m.gguf?token=abc");
 * assert.equal(describeUrl(url), "https://example.com/m.gguf");
 * ```
 */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Wraps a failed `fetch` or body read as a `GgufError` with code `IO`. */
function fetchError(what: string, cause: unknown): GgufError {
  if (cause instanceof GgufError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new GgufError("IO", `${what}: ${reason}`, undefined, { cause });
}

/** Parses `Content-Range: bytes START-END/TOTAL`, or the `*` form a 416 carries. */
function parseContentRange(
  header: string | null,
): { start: number; end: number; total: number | undefined } | undefined {
  const match = header?.match(/^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i);
  if (match === null || match === undefined) return undefined;
  const total = match[3] === "*" ? undefined : Number(match[3]);
  const start = match[1] === undefined ? 0 : Number(match[1]);
  const end = match[2] === undefined ? -1 : Number(match[2]);
  if (![start, end + 1, total ?? 0].every(Number.isSafeInteger)) return undefined;
  return { start, end, total };
}

/**
 * Opens a model at an `http:` or `https:` URL for random access by `Range` requests. The
 * first request (`Range: bytes=0-…`, `firstRequestBytes` long) tells the size and is kept
 * as a prefix: reads inside it cost nothing, a read from byte 0 past it fetches only the
 * tail, and any other read is one request for exactly its bytes. Redirects are followed
 * (`fetch` does); every response must agree on the size and, when the server sends one,
 * the `ETag`, so a file replaced while it is read is an error, never a mix of two files.
 *
 * @param url The model's URL.
 * @param options A `fetch` of your own, headers (tokens), the first request's length, a signal.
 * @returns A source whose `kind` is `"http"`; `view()` always returns `undefined`.
 * @throws {GgufError} `IO` when the request fails, the server answers with an error
 *   status, or it does not honour `Range` requests (a `200` with the whole file).
 * @throws {TypeError} For a URL that is not `http:` or `https:`.
 *
 * @example Reading a model's first bytes over HTTP
 * ```ts
 * import { openHttpRangeSource } from "../../advanced.ts";
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
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new TypeError(`Cannot fetch ${target.href}: only http: and https: URLs can be fetched`);
  }
  const where = describeUrl(target);
  const fetchFn: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));
  const firstBytes = options.firstRequestBytes ?? DEFAULT_FIRST_REQUEST_BYTES;
  if (!Number.isSafeInteger(firstBytes) || firstBytes < 1) {
    throw new TypeError(`firstRequestBytes must be a positive integer, got ${firstBytes}`);
  }

  /** Sends `Range: bytes=start-(end-1)`. */
  const request = async (start: number, end: number): Promise<Response> => {
    const headers = new Headers(options.headers);
    headers.set("range", `bytes=${start}-${end - 1}`);
    // Ranges count bytes of the stored file: ask for it as it is stored (browsers ignore this).
    headers.set("accept-encoding", "identity");
    try {
      return await fetchFn(target, { headers, redirect: "follow", signal: options.signal });
    } catch (cause) {
      throw fetchError(`Cannot fetch ${where}`, cause);
    }
  };

  const refuse = async (response: Response, start: number, end: number): Promise<never> => {
    await response.body?.cancel().catch(() => {});
    const range = `bytes ${formatInteger(start)}-${formatInteger(end - 1)}`;
    if (response.status === 200) {
      const length = response.headers.get("content-length");
      throw new GgufError(
        "IO",
        `Cannot read ${where} by ranges: asked for ${range}, the server sent the whole file (200 OK${
          length === null ? "" : `, ${formatInteger(Number(length))} bytes`
        }): it does not honour Range requests. Download the file, or convert it in one pass (which reads it as one stream)`,
      );
    }
    throw new GgufError(
      "IO",
      `Cannot fetch ${where} (${range}): the server answered ${response.status} ${response.statusText}`
        .trimEnd() +
        (response.status === 401 || response.status === 403
          ? " (a gated model needs an Authorization header: pass it in the headers option)"
          : ""),
    );
  };

  // The first request: the prefix, and the file's size from Content-Range.
  const first = await request(0, firstBytes);
  const firstRange = parseContentRange(first.headers.get("content-range"));
  let size: number;
  let prefix: Uint8Array;
  const empty = (first.status === 416 && firstRange?.total === 0) ||
    (first.status === 200 && first.headers.get("content-length") === "0");
  if (empty) {
    await first.body?.cancel().catch(() => {});
    size = 0;
    prefix = new Uint8Array(0);
  } else if (first.status === 206) {
    if (firstRange === undefined || firstRange.start !== 0 || firstRange.total === undefined) {
      await first.body?.cancel().catch(() => {});
      throw new GgufError(
        "IO",
        `Cannot read ${where} by ranges: the server's Content-Range (${
          first.headers.get("content-range") ?? "none"
        }) does not give the file's size`,
      );
    }
    size = firstRange.total;
    prefix = await body(first, firstRange.end + 1, 0);
  } else {
    return await refuse(first, 0, firstBytes);
  }
  const etag = first.headers.get("etag");

  /** Reads a response's body, which must hold exactly `length` bytes from `start`. */
  async function body(response: Response, length: number, start: number): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (cause) {
      throw fetchError(`Cannot read ${where} at byte ${formatInteger(start)}`, cause);
    }
    if (bytes.length !== length) {
      throw new GgufError(
        "IO",
        `Cannot read ${where} at byte ${formatInteger(start)}: the server sent ${
          formatInteger(bytes.length)
        } bytes, ${formatInteger(length)} were asked for`,
        start,
      );
    }
    return bytes;
  }

  /** Fetches bytes `start` to `end` (exclusive) in one request. */
  const fetchRange = async (start: number, end: number): Promise<Uint8Array> => {
    const response = await request(start, end);
    if (response.status !== 206) return await refuse(response, start, end);
    const range = parseContentRange(response.headers.get("content-range"));
    const tag = response.headers.get("etag");
    if (range?.total !== size || (etag !== null && tag !== null && tag !== etag)) {
      await response.body?.cancel().catch(() => {});
      throw new GgufError(
        "IO",
        `Cannot read ${where}: it changed on the server while being read (size or ETag differ)`,
        start,
      );
    }
    if (range.start !== start || range.end !== end - 1) {
      await response.body?.cancel().catch(() => {});
      throw new GgufError(
        "IO",
        `Cannot read ${where}: asked for bytes ${formatInteger(start)}-${
          formatInteger(end - 1)
        }, the server sent ${formatInteger(range.start)}-${formatInteger(range.end)}`,
        start,
      );
    }
    return await body(response, end - start, start);
  };

  return {
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
}

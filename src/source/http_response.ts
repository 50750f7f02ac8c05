/**
 * What the remote sources check in a response before trusting its bytes: the range it
 * holds, whether it is an HTML page rather than a model, and whether the file is still
 * the one first read (`ETag`, `Last-Modified`) — and the errors they raise when not.
 *
 * @module
 */
import { GgufError } from "../model/errors.ts";

/** A `Content-Range`: the first and last byte sent, and the file's size if known. */
export interface ContentRange {
  start: number;
  end: number;
  total: number | undefined;
}

/**
 * Parses `Content-Range: bytes START-END/TOTAL`, or the `*` form a 416 carries.
 *
 * @param header The header's value, or `null`.
 * @returns The range, or `undefined` when it is missing or malformed.
 *
 * @example
 * ```ts
 * import { parseContentRange } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseContentRange("bytes 0-99/5000"), { start: 0, end: 99, total: 5000 });
 * assert.equal(parseContentRange("bytes 0-99"), undefined);
 * ```
 */
export function parseContentRange(header: string | null): ContentRange | undefined {
  const match = header?.match(/^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i);
  if (match === null || match === undefined) return undefined;
  const total = match[3] === "*" ? undefined : Number(match[3]);
  const start = match[1] === undefined ? 0 : Number(match[1]);
  const end = match[2] === undefined ? -1 : Number(match[2]);
  if (![start, end + 1, total ?? 0].every(Number.isSafeInteger)) return undefined;
  return { start, end, total };
}

/**
 * A byte range as HTTP writes it, for messages: `bytes 0-1048575`, or `bytes 100000-` for
 * one that runs to the end. The digits stay plain, as in the `Range` and `Content-Range`
 * headers a server's log shows.
 *
 * @param start The first byte.
 * @param last The last byte (inclusive), or `undefined` for the rest of the file.
 * @returns The range's text.
 *
 * @example
 * ```ts
 * import { byteRange } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * assert.equal(byteRange(0, 1048575), "bytes 0-1048575");
 * assert.equal(byteRange(100000), "bytes 100000-");
 * ```
 */
export function byteRange(start: number, last?: number): string {
  return `bytes ${start}-${last ?? ""}`;
}

/**
 * Whether bytes look like the start of an HTML page (`<!DOCTYPE html`, `<html`, after
 * any byte order mark and white space) rather than a model.
 *
 * @param bytes The first bytes of a body.
 * @returns `true` for an HTML page.
 *
 * @example
 * ```ts
 * import { looksLikeHtml } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * assert.equal(looksLikeHtml(new TextEncoder().encode("\n<!doctype html><p>")), true);
 * assert.equal(looksLikeHtml(new TextEncoder().encode("GGUF")), false);
 * ```
 */
export function looksLikeHtml(bytes: Uint8Array): boolean {
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  while (start < bytes.length && start < 64 && [9, 10, 13, 32].includes(bytes[start])) start++;
  const text = new TextDecoder().decode(bytes.subarray(start, start + 14)).toLowerCase();
  return text.startsWith("<!doctype html") || text.startsWith("<html");
}

/**
 * Whether a response says it is an HTML page (its `Content-Type`).
 *
 * @param response The response.
 * @returns `true` for `text/html` or `application/xhtml+xml`.
 *
 * @example
 * ```ts
 * import { isHtmlResponse } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * const page = new Response("", { headers: { "content-type": "text/html; charset=utf-8" } });
 * assert.equal(isHtmlResponse(page), true);
 * assert.equal(isHtmlResponse(new Response(new Uint8Array(4))), false);
 * ```
 */
export function isHtmlResponse(response: Response): boolean {
  return /^\s*(text\/html|application\/xhtml\+xml)\b/i.test(
    response.headers.get("content-type") ?? "",
  );
}

/**
 * The error for a URL that serves an HTML page (a directory listing, a login page, a
 * "not found" page sent with status 200) instead of a model.
 *
 * @param where The URL as messages show it.
 * @param offset The byte the page was found at, if not 0.
 * @returns A `GgufError` `IO`.
 *
 * @example
 * ```ts
 * import { htmlPageError } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * assert.match(htmlPageError("https://example.com/models/").message, /an HTML page/);
 * ```
 */
export function htmlPageError(where: string, offset?: number): GgufError {
  return new GgufError(
    "IO",
    `Cannot read ${where}: the server sent an HTML page, not a GGUF file (a directory listing, a login or an error page?); check the URL (on Hugging Face, use /resolve/ rather than /blob/)`,
    offset,
  );
}

/**
 * The error for a status that is neither the bytes nor worth another try (`404`, `403` …).
 *
 * @param where The URL as messages show it.
 * @param response The response.
 * @param range The range asked for, as messages show it (` (bytes 0-99)`), if any.
 * @returns A `GgufError` `IO`; a `401` or `403` says how to pass a token.
 *
 * @example
 * ```ts
 * import { statusError } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * const error = statusError("https://example.com/m.gguf", new Response(null, { status: 403 }));
 * assert.match(error.message, /answered 403.*Authorization/);
 * ```
 */
export function statusError(where: string, response: Response, range = ""): GgufError {
  return new GgufError(
    "IO",
    `Cannot fetch ${where}${range}: the server answered ${response.status} ${response.statusText}`
      .trimEnd() +
      (response.status === 401 || response.status === 403
        ? " (a gated model needs an Authorization header: pass it in the headers option)"
        : ""),
  );
}

/**
 * The error for a file that changed on the server while it was read: its size, `ETag`
 * or `Last-Modified` differ from the first response's. Never a mix of two files' bytes.
 *
 * @param where The URL as messages show it.
 * @param offset The byte being read when the change was seen.
 * @returns A `GgufError` `IO`.
 *
 * @example
 * ```ts
 * import { changedError } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * assert.equal(changedError("https://example.com/m.gguf", 4096).offset, 4096);
 * ```
 */
export function changedError(where: string, offset: number): GgufError {
  return new GgufError(
    "IO",
    `Cannot read ${where}: it changed on the server while being read (its size, ETag or Last-Modified differ from the first response's); start again`,
    offset,
  );
}

/** A response's validators: what must not change while a file is read. */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

/**
 * Reads a response's `ETag` and `Last-Modified`.
 *
 * @param response The response.
 * @returns Its validators (`null` where it sent none).
 *
 * @example
 * ```ts
 * import { validatorsOf } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * const response = new Response(null, { headers: { etag: '"v1"' } });
 * assert.deepEqual(validatorsOf(response), { etag: '"v1"', lastModified: null });
 * ```
 */
export function validatorsOf(response: Response): Validators {
  return {
    etag: response.headers.get("etag"),
    lastModified: response.headers.get("last-modified"),
  };
}

/**
 * Whether a later response's validators contradict the first ones: an `ETag` or a
 * `Last-Modified` that both carry and that differ. The weak and strong forms of one
 * `ETag` count as the same: compressing proxies weaken tags.
 *
 * @param pinned The first response's validators.
 * @param later A later response's.
 * @returns `true` when the file changed.
 *
 * @example
 * ```ts
 * import { validatorsDiffer } from "./http_response.ts";
 * import assert from "node:assert/strict";
 * const first = { etag: '"v1"', lastModified: null };
 * assert.equal(validatorsDiffer(first, { etag: 'W/"v1"', lastModified: null }), false);
 * assert.equal(validatorsDiffer(first, { etag: '"v2"', lastModified: null }), true);
 * ```
 */
export function validatorsDiffer(pinned: Validators, later: Validators): boolean {
  const strip = (tag: string) => tag.replace(/^W\//, "");
  if (pinned.etag !== null && later.etag !== null && strip(pinned.etag) !== strip(later.etag)) {
    return true;
  }
  return pinned.lastModified !== null && later.lastModified !== null &&
    pinned.lastModified !== later.lastModified;
}

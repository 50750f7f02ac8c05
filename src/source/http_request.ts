/**
 * One HTTP request as the remote sources send it: redirects followed by hand to a bounded
 * depth (so the final URL can be pinned), transient failures (a reset connection, `5xx`,
 * `429`) retried with exponential backoff and `Retry-After`, and network errors described
 * with their cause (`ECONNREFUSED`, `ENOTFOUND` …) on every runtime.
 *
 * @module
 */
import { GgufError } from "../model/errors.ts";

/** A `fetch`: the runtime's, or a caller's wrapper (auth, retries, a proxy, counting). */
export type FetchFunction = (input: URL, init: RequestInit) => Promise<Response>;

/** How transient failures (a reset connection, `5xx`, `429`) are retried. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 disables retries). */
  attempts?: number;
  /** The first wait in milliseconds, doubled after each failure (default 500). */
  baseDelay?: number;
  /** The longest wait in milliseconds, a server's `Retry-After` included (default 30 000). */
  maxDelay?: number;
}

/** The settings every request of one source shares. */
export interface RequestSettings {
  fetch: FetchFunction;
  /** Redirects followed before giving up. */
  maxRedirects: number;
  attempts: number;
  baseDelay: number;
  maxDelay: number;
  signal: AbortSignal | undefined;
}

/** The default number of redirects followed (browsers follow 20, curl 50 when asked). */
export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * Resolves a caller's fetch, retry and redirect options into settings, checking them.
 *
 * @param options The caller's options.
 * @returns The settings.
 * @throws {TypeError} For a count or delay that is not a non-negative integer.
 */
export function requestSettings(
  options: {
    fetch?: FetchFunction;
    retry?: RetryOptions;
    maxRedirects?: number;
    signal?: AbortSignal;
  },
): RequestSettings {
  const retry = options.retry ?? {};
  const settings: RequestSettings = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    maxRedirects: options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
    attempts: retry.attempts ?? 4,
    baseDelay: retry.baseDelay ?? 500,
    maxDelay: retry.maxDelay ?? 30_000,
    signal: options.signal,
  };
  for (const name of ["maxRedirects", "baseDelay", "maxDelay"] as const) {
    const value = settings[name];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (!Number.isSafeInteger(settings.attempts) || settings.attempts < 1) {
    throw new TypeError(`retry.attempts must be a positive integer, got ${settings.attempts}`);
  }
  return settings;
}

/**
 * A failure worth another attempt: the network failed, or the server said to come back
 * (`5xx`, `429`, `408`). `retryAfter` is the server's `Retry-After` in milliseconds.
 */
export class TransientError extends Error {
  readonly retryAfter: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, { cause: options?.cause });
    this.name = "TransientError";
    this.retryAfter = options?.retryAfter;
  }
}

/** Statuses that say "try again later". */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** A `Retry-After` header (seconds or an HTTP date) in milliseconds, if it parses. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Error codes of the common network failures, recognised in messages without a code. */
const KNOWN_FAILURES: [RegExp, string][] = [
  [/connection refused|ECONNREFUSED/i, "ECONNREFUSED"],
  [/connection reset|ECONNRESET/i, "ECONNRESET"],
  [/dns error|failed to lookup|name or service not known|ENOTFOUND|getaddrinfo/i, "ENOTFOUND"],
  [/timed out|ETIMEDOUT/i, "ETIMEDOUT"],
  [/broken pipe|EPIPE/i, "EPIPE"],
];

/**
 * Describes a network failure with its causes: Deno and Node say only `fetch failed`
 * and keep the reason (`connect ECONNREFUSED 127.0.0.1:8000`) in `error.cause`, Bun puts
 * it in the message. The system error code leads, so every runtime names it alike.
 *
 * @param error What `fetch` or a body read threw.
 * @returns One line: `ECONNREFUSED (fetch failed: connect ECONNREFUSED 127.0.0.1:8000)`.
 *
 * @example
 * ```ts
 * import { describeNetworkError } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), {
 *   code: "ECONNREFUSED",
 * });
 * const error = new TypeError("fetch failed", { cause });
 * assert.equal(
 *   describeNetworkError(error),
 *   "ECONNREFUSED (fetch failed: connect ECONNREFUSED 127.0.0.1:9)",
 * );
 * ```
 */
export function describeNetworkError(error: unknown): string {
  const messages: string[] = [];
  let code: string | undefined;
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): void => {
    if (value === undefined || value === null || seen.has(value) || depth > 8) return;
    seen.add(value);
    if (!(value instanceof Error)) {
      messages.push(String(value));
      return;
    }
    const own = (value as { code?: unknown }).code;
    if (code === undefined && typeof own === "string" && /^E[A-Z0-9_]+$/.test(own)) code = own;
    const text = value.message.trim();
    if (text !== "" && !messages.some((m) => m.includes(text))) messages.push(text);
    // Node's happy-eyeballs connect failures are an AggregateError of one per address.
    const errors = (value as { errors?: unknown }).errors;
    if (Array.isArray(errors)) { for (const inner of errors.slice(0, 4)) visit(inner, depth + 1); }
    visit(value.cause, depth + 1);
  };
  visit(error, 0);
  const text = messages.join(": ") || "unknown network failure";
  code ??= KNOWN_FAILURES.find(([pattern]) => pattern.test(text))?.[1];
  return code === undefined ? text : `${code} (${text})`;
}

/** Whether the caller's signal fired. */
function aborted(settings: RequestSettings): boolean {
  return settings.signal?.aborted === true;
}

/** Waits `ms`, or until the signal fires (then throws its reason). */
function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, retrying a {@linkcode TransientError} (and any error
 * from the network, which `attempt` wraps as one) with exponential backoff, at most
 * `settings.attempts` times in all. Other errors end at once.
 *
 * @param what What was being done, for the final error: `Cannot fetch URL`.
 * @param settings The retry settings.
 * @param attempt One try.
 * @returns What the successful try returned.
 * @throws {GgufError} `IO` once the attempts are spent, naming the last failure.
 */
export async function withRetries<T>(
  what: string,
  settings: RequestSettings,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let tries = 1;; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof TransientError) || aborted(settings)) throw error;
      if (tries >= settings.attempts) {
        const after = tries > 1 ? ` (after ${tries} attempts)` : "";
        throw new GgufError("IO", `${what}: ${error.message}${after}`, undefined, {
          cause: error.cause ?? error,
        });
      }
      const backoff = settings.baseDelay * 2 ** (tries - 1);
      await wait(Math.min(settings.maxDelay, error.retryAfter ?? backoff), settings.signal);
    }
  }
}

/** Headers that must not follow a redirect to another origin (as `fetch` itself drops them). */
const CREDENTIALS = ["authorization", "cookie", "proxy-authorization"];

/** A response, and the URL it came from after redirects. */
export interface Fetched {
  response: Response;
  url: URL;
  /** The headers sent to `url` (credentials dropped after a redirect to another origin). */
  headers: Headers;
}

/**
 * Sends one GET, following redirects by hand up to `settings.maxRedirects`. A network
 * failure is a {@linkcode TransientError}; statuses are the caller's to judge.
 *
 * @param url Where to send it.
 * @param headers The request's headers.
 * @param settings The fetch and redirect settings.
 * @returns The final response and its URL.
 * @throws {TransientError} When the network fails.
 * @throws {GgufError} `IO` after too many redirects, or one to a URL that is not http(s).
 */
export async function send(
  url: URL,
  headers: Headers,
  settings: RequestSettings,
): Promise<Fetched> {
  let current = url;
  let sent = new Headers(headers);
  for (let hops = 0;; hops++) {
    let response: Response;
    try {
      response = await settings.fetch(current, {
        headers: sent,
        redirect: "manual",
        signal: settings.signal,
      });
    } catch (cause) {
      if (aborted(settings)) throw cause;
      throw new TransientError(describeNetworkError(cause), { cause });
    }
    if (response.type === "opaqueredirect") {
      // A browser hides redirects from script: let it follow them, and pin where it ended.
      try {
        response = await settings.fetch(current, {
          headers: sent,
          redirect: "follow",
          signal: settings.signal,
        });
      } catch (cause) {
        if (aborted(settings)) throw cause;
        throw new TransientError(describeNetworkError(cause), { cause });
      }
      return { response, url: response.url ? new URL(response.url) : current, headers: sent };
    }
    const location = response.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) {
      return { response, url: current, headers: sent };
    }
    await response.body?.cancel().catch(() => {});
    const next = new URL(location, current);
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new GgufError(
        "IO",
        `Cannot follow the redirect from ${current.origin}${current.pathname} to ${next.protocol} (only http: and https: are fetched)`,
      );
    }
    if (hops + 1 > settings.maxRedirects) {
      throw new GgufError(
        "IO",
        `Cannot fetch ${url.origin}${url.pathname}: more than ${settings.maxRedirects} redirects (the last to ${next.origin}${next.pathname})`,
      );
    }
    if (next.origin !== current.origin) {
      sent = new Headers(sent);
      for (const name of CREDENTIALS) sent.delete(name);
    }
    current = next;
  }
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
 * import { looksLikeHtml } from "./http_request.ts";
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

/** Whether a response says it is an HTML page. */
export function isHtmlResponse(response: Response): boolean {
  return /^\s*(text\/html|application\/xhtml\+xml)\b/i.test(
    response.headers.get("content-type") ?? "",
  );
}

/**
 * The error for a URL that serves an HTML page (a directory listing, a login page, a
 * "file not found" page with status 200) instead of a model.
 */
export function htmlPageError(where: string, offset?: number): GgufError {
  return new GgufError(
    "IO",
    `Cannot read ${where}: the server sent an HTML page, not a GGUF file (a directory listing, a login or an error page?); check the URL (on Hugging Face, use /resolve/ rather than /blob/)`,
    offset,
  );
}

/** A response's validators: what must not change while a file is read. */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

/** Reads a response's `ETag` and `Last-Modified`. */
export function validatorsOf(response: Response): Validators {
  return {
    etag: response.headers.get("etag"),
    lastModified: response.headers.get("last-modified"),
  };
}

/**
 * Whether a later response's validators contradict the first ones: an `ETag` or a
 * `Last-Modified` that both carry and that differ (a weak and a strong form of one
 * `ETag` are the same: compressing proxies weaken tags).
 */
export function validatorsDiffer(pinned: Validators, later: Validators): boolean {
  const strip = (tag: string) => tag.replace(/^W\//, "");
  if (pinned.etag !== null && later.etag !== null && strip(pinned.etag) !== strip(later.etag)) {
    return true;
  }
  return pinned.lastModified !== null && later.lastModified !== null &&
    pinned.lastModified !== later.lastModified;
}

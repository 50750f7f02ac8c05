/**
 * One HTTP request as the remote sources send it: redirects followed by hand to a bounded
 * depth (so the final URL can be pinned), a server that falls silent given up on after an
 * idle timeout, transient failures (a reset connection, a silent server, `5xx`, `429`)
 * retried with exponential backoff and `Retry-After`, and network errors described with
 * their cause (`ECONNREFUSED`, `ENOTFOUND` …) on every runtime.
 *
 * @module
 */
import { GgufError } from "../model/errors.ts";
import { describeUrl } from "../model/describe_url.ts";
import { PLATFORM } from "../runtime/current.ts";
import { DEFAULT_IDLE_TIMEOUT, idleFetch, MAX_IDLE_TIMEOUT } from "./idle_fetch.ts";

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
  /** Milliseconds a server may send nothing before a request fails (0: no limit). */
  idleTimeout: number;
  signal: AbortSignal | undefined;
  /** Decode a compressed body here: the runtime's own `fetch` leaves it as it came. */
  decode: boolean;
}

/** The default number of redirects followed (browsers follow 20, curl 50 when asked). */
export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * Resolves a caller's fetch, retry, redirect and timeout options into settings, checking
 * them.
 *
 * @param options The caller's options.
 * @returns The settings.
 * @throws {TypeError} For a count or delay that is not a non-negative integer, or an idle
 *   timeout past 2^31 − 1 ms.
 *
 * @example
 * ```ts
 * import { requestSettings } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * assert.equal(requestSettings({ retry: { attempts: 2 } }).attempts, 2);
 * assert.equal(requestSettings({}).idleTimeout, 30_000);
 * assert.throws(() => requestSettings({ maxRedirects: -1 }), TypeError);
 * ```
 */
export function requestSettings(
  options: {
    fetch?: FetchFunction;
    retry?: RetryOptions;
    maxRedirects?: number;
    idleTimeout?: number;
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
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    signal: options.signal,
    decode: options.fetch === undefined && PLATFORM.fetchKeepsEncoding === true,
  };
  for (const name of ["maxRedirects", "baseDelay", "maxDelay", "idleTimeout"] as const) {
    const value = settings[name];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (!Number.isSafeInteger(settings.attempts) || settings.attempts < 1) {
    throw new TypeError(`retry.attempts must be a positive integer, got ${settings.attempts}`);
  }
  if (settings.idleTimeout > MAX_IDLE_TIMEOUT) {
    throw new TypeError(
      `idleTimeout must be at most ${MAX_IDLE_TIMEOUT} ms (0 for no limit), got ${settings.idleTimeout}`,
    );
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

/**
 * A network failure that another attempt would only repeat: a certificate this runtime
 * does not trust or that is not valid for the host, a port the runtime refuses to connect
 * to. {@linkcode withRetries} reports it at once, with what the user can do about it.
 */
export class LastingNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LastingNetworkError";
  }
}

/**
 * The failures {@linkcode networkAdvice} knows, the advice it gives for each, and whether
 * another attempt would only repeat it.
 */
const KNOWN_ADVICE: { code?: RegExp; message: RegExp; advice: string; lasting: boolean }[] = [
  {
    // Node and Bun name the code; Deno says "invalid peer certificate: UnknownIssuer".
    code:
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|(DEPTH_ZERO_)?SELF_SIGNED_CERT(_IN_CHAIN)?)$/,
    message: /invalid peer certificate: (UnknownIssuer|Other\(OtherError\(CaUsedAsEndEntity\)\))/,
    advice:
      "the server's certificate is not signed by an authority this runtime trusts; for a private authority, name its certificate in NODE_EXTRA_CA_CERTS=ca.pem (Deno, Bun and Node all read it)",
    lasting: true,
  },
  {
    code: /^(CERT_\w+|ERR_TLS_CERT_\w+)$/,
    message:
      /invalid peer certificate|certificate (has expired|is not yet valid)|does not match certificate/i,
    advice: "the server's certificate is not valid for this address",
    lasting: true,
  },
  {
    // getaddrinfo's EAI_NONAME. Still retried: an offline machine (macOS, Windows) or a
    // network coming back reports the same, and it may pass.
    code: /^ENOTFOUND$/,
    message:
      /Name or service not known|No address associated with hostname|nodename nor servname provided|No such host is known/,
    advice: "the host name does not resolve; check the URL and the network",
    lasting: false,
  },
  {
    // Runtimes refuse the ports the Fetch standard blocks (6000, 25, 1...).
    message: /Requests to port \d+ are blocked|^bad port$/,
    advice: "this runtime refuses to fetch from that port (a port the Fetch standard blocks)",
    lasting: true,
  },
];

/**
 * What to tell the user of a network failure the project knows, on every runtime alike,
 * and whether another attempt would only repeat it (see {@linkcode LastingNetworkError});
 * `undefined` for any other failure.
 *
 * @param error What `fetch` threw.
 * @returns The advice in a few words and whether the failure is lasting, or `undefined`.
 *
 * @example
 * ```ts
 * import { networkAdvice } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * const cause = Object.assign(new Error("getaddrinfo ENOTFOUND models.invalid"), {
 *   code: "ENOTFOUND",
 * });
 * const known = networkAdvice(new TypeError("fetch failed", { cause }));
 * assert.match(known!.advice, /does not resolve/);
 * assert.equal(known!.lasting, false); // retried: it may pass
 * assert.equal(networkAdvice(new TypeError("fetch failed")), undefined);
 * ```
 */
export function networkAdvice(error: unknown): { advice: string; lasting: boolean } | undefined {
  for (const value of errorChain(error)) {
    if (!(value instanceof Error)) continue;
    const code = (value as { code?: unknown }).code;
    for (const known of KNOWN_ADVICE) {
      if (
        (typeof code === "string" && known.code?.test(code)) ||
        known.message.test(value.message)
      ) return { advice: known.advice, lasting: known.lasting };
    }
  }
  return undefined;
}

/**
 * An error, then its causes and, for Node's happy-eyeballs `AggregateError`, its first
 * few inner errors, depth first, each once, at most 8 deep.
 */
function* errorChain(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  function* visit(value: unknown, depth: number): Generator<unknown> {
    if (value === undefined || value === null || seen.has(value) || depth > 8) return;
    seen.add(value);
    yield value;
    if (!(value instanceof Error)) return;
    const errors = (value as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors.slice(0, 4)) yield* visit(inner, depth + 1);
    }
    yield* visit(value.cause, depth + 1);
  }
  yield* visit(error, 0);
}

/**
 * Whether a status says "try again later": `408`, `429`, and `5xx` but for `501` and `505`
 * (which no retry changes).
 *
 * @param status An HTTP status.
 * @returns `true` when another attempt may succeed.
 *
 * @example
 * ```ts
 * import { isTransientStatus } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([503, 429, 404, 501].map(isTransientStatus), [true, true, false, false]);
 * ```
 */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * A `Retry-After` header (seconds, or an HTTP date) in milliseconds.
 *
 * @param header The header's value, or `null`.
 * @returns The wait, or `undefined` when there is none or it does not parse.
 *
 * @example
 * ```ts
 * import { retryAfterMs } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * assert.equal(retryAfterMs("2"), 2000);
 * assert.equal(retryAfterMs("soon"), undefined);
 * ```
 */
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
  [/temporary failure in name resolution|EAI_AGAIN/i, "EAI_AGAIN"],
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
  // Node's happy-eyeballs connect failures are an AggregateError of one per address.
  for (const value of errorChain(error)) {
    if (!(value instanceof Error)) {
      messages.push(String(value));
      continue;
    }
    const own = (value as { code?: unknown }).code;
    if (code === undefined && typeof own === "string" && /^E[A-Z0-9_]+$/.test(own)) code = own;
    const text = value.message.trim();
    if (text !== "" && !messages.some((m) => m.includes(text))) messages.push(text);
  }
  const text = messages.join(": ") || "unknown network failure";
  code ??= KNOWN_FAILURES.find(([pattern]) => pattern.test(text))?.[1];
  return code === undefined ? text : `${code} (${text})`;
}

/**
 * A transient status as a {@linkcode TransientError} carrying its `Retry-After`; the
 * response's body is cancelled.
 *
 * @param response A response whose status {@linkcode isTransientStatus} accepts.
 * @returns The error to throw inside {@linkcode withRetries}.
 *
 * @example
 * ```ts
 * import { transientStatus } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * const busy = new Response(null, { status: 503, headers: { "retry-after": "1" } });
 * assert.equal((await transientStatus(busy)).retryAfter, 1000);
 * ```
 */
export async function transientStatus(response: Response): Promise<TransientError> {
  await response.body?.cancel().catch(() => {});
  return new TransientError(
    `the server answered ${response.status} ${response.statusText}`.trimEnd(),
    { retryAfter: retryAfterMs(response.headers.get("retry-after")) },
  );
}

/**
 * The URL, checked to be one the remote sources fetch.
 *
 * @param url A URL.
 * @returns It as a `URL`.
 * @throws {TypeError} For a URL that is not `http:` or `https:`.
 *
 * @example
 * ```ts
 * import { httpUrl } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * assert.equal(httpUrl("https://example.com/m.gguf").host, "example.com");
 * assert.throws(() => httpUrl("file:///m.gguf"), TypeError);
 * ```
 */
export function httpUrl(url: string | URL): URL {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new TypeError(`Cannot fetch ${target.href}: only http: and https: URLs can be fetched`);
  }
  return target;
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
 * `settings.attempts` times in all. A {@linkcode LastingNetworkError} is reported at once,
 * as the last failure would be; other errors end at once as they are.
 *
 * @param what What was being done, for the final error: `Cannot fetch URL`.
 * @param settings The retry settings.
 * @param attempt One try.
 * @returns What the successful try returned.
 * @throws {GgufError} `IO` once the attempts are spent, naming the last failure.
 *
 * @example
 * ```ts
 * import { requestSettings, TransientError, withRetries } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * const settings = requestSettings({ retry: { baseDelay: 1 } });
 * let tries = 0;
 * const value = await withRetries("Cannot fetch x", settings, () => {
 *   if (++tries < 3) throw new TransientError("the server answered 503");
 *   return Promise.resolve("done");
 * });
 * assert.deepEqual([value, tries], ["done", 3]);
 * ```
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
      if (error instanceof LastingNetworkError && !aborted(settings)) {
        throw new GgufError("IO", `${what}: ${error.message}`, undefined, { cause: error.cause });
      }
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
 * One `fetch` of `url`, bounded by the idle timeout (its body too); a network failure or a
 * silent server is a {@linkcode TransientError}, the signal's firing its reason.
 */
async function fetchOnce(
  url: URL,
  headers: Headers,
  redirect: RequestRedirect,
  settings: RequestSettings,
): Promise<Response> {
  let response: Response;
  try {
    response = await idleFetch(url, {
      fetch: settings.fetch,
      headers,
      redirect,
      idleTimeout: settings.idleTimeout,
      signal: settings.signal,
    });
  } catch (cause) {
    if (aborted(settings)) throw cause;
    // A runtime's message may quote the URL whole: its query may hold a token.
    const text = describeNetworkError(cause).replaceAll(url.href, describeUrl(url));
    const known = networkAdvice(cause);
    const message = known === undefined ? text : `${text}: ${known.advice}`;
    if (known?.lasting) throw new LastingNetworkError(message, { cause });
    throw new TransientError(message, { cause });
  }
  return settings.decode ? await decodedResponse(url, response) : response;
}

/** The `Content-Encoding`s a `DecompressionStream` decodes, by the name it takes. */
const DECODERS: Readonly<Record<string, "gzip" | "deflate">> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
};

/**
 * A response whose body is decoded as the web's `fetch` decodes it, for a runtime whose
 * `fetch` leaves it compressed (Deno, once `Accept-Encoding` is set): a server may
 * compress although asked for `identity`. Its `Content-Encoding` and `Content-Length`
 * (the compressed length) are dropped. An encoding there is no decoder for is refused.
 */
async function decodedResponse(url: URL, response: Response): Promise<Response> {
  const encoding = response.headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding === undefined || encoding === "" || encoding === "identity") return response;
  if (response.body === null) return response;
  const format = DECODERS[encoding];
  if (format === undefined) {
    await response.body.cancel().catch(() => {});
    throw new GgufError(
      "IO",
      `Cannot read ${url.origin}${url.pathname}: the server compressed its answer (Content-Encoding: ${encoding}), which ${PLATFORM.displayName} cannot decode here; ask the server for the file as it is`,
    );
  }
  const headers = new Headers(response.headers);
  headers.delete("content-encoding");
  headers.delete("content-length");
  const decoded = new Response(response.body.pipeThrough(new DecompressionStream(format)), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
  Object.defineProperty(decoded, "url", { value: response.url });
  return decoded;
}

/**
 * Sends one GET, following redirects by hand up to `settings.maxRedirects`. A network
 * failure, or a server that sends nothing for `settings.idleTimeout`, is a
 * {@linkcode TransientError}; statuses are the caller's to judge. The response's body
 * fails (an `IdleTimeoutError`) when a read waits that long for a byte.
 *
 * @param url Where to send it.
 * @param headers The request's headers.
 * @param settings The fetch and redirect settings.
 * @returns The final response and its URL.
 * @throws {TransientError} When the network fails or the server sends nothing.
 * @throws {GgufError} `IO` after too many redirects, or one to a URL that is not http(s).
 *
 * @example Following a redirect to another origin, without the token
 * ```ts
 * import { requestSettings, send } from "./http_request.ts";
 * import assert from "node:assert/strict";
 * const fetch = (url: URL, init: RequestInit) =>
 *   Promise.resolve(
 *     url.host === "a.example"
 *       ? new Response(null, { status: 302, headers: { location: "https://b.example/m" } })
 *       : new Response(new Headers(init.headers).get("authorization") ?? "none"),
 *   );
 * const sent = await send(
 *   new URL("https://a.example/m"),
 *   new Headers({ authorization: "Bearer t" }),
 *   requestSettings({ fetch }),
 * );
 * assert.equal(sent.url.href, "https://b.example/m");
 * assert.equal(await sent.response.text(), "none");
 * ```
 */
export async function send(
  url: URL,
  headers: Headers,
  settings: RequestSettings,
): Promise<Fetched> {
  let current = url;
  let sent = new Headers(headers);
  if (url.username !== "" || url.password !== "") {
    // Credentials in the URL go as the header they stand for: Node's fetch refuses such a
    // URL outright, and a runtime's error message would quote them.
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    const bytes = new TextEncoder().encode(pair);
    if (!sent.has("authorization")) {
      sent.set("authorization", `Basic ${btoa(String.fromCharCode(...bytes))}`);
    }
    current = new URL(url);
    current.username = "";
    current.password = "";
  }
  for (let hops = 0;; hops++) {
    let response = await fetchOnce(current, sent, "manual", settings);
    if (response.type === "opaqueredirect") {
      // A browser hides redirects from script: let it follow them, and pin where it ended.
      response = await fetchOnce(current, sent, "follow", settings);
      return { response, url: response.url ? new URL(response.url) : current, headers: sent };
    }
    const location = response.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) {
      // A caller's fetch may have followed redirects itself: pin where it ended.
      const final = response.url ? new URL(response.url) : current;
      return { response, url: final, headers: sent };
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

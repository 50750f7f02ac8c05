/**
 * One HTTP request that a silent server cannot hang: the response must begin, and each
 * read of its body must deliver, within an idle timeout. It bounds silence, not the whole
 * transfer: a slow but steady download of a large model is never cut off.
 *
 * @module
 */
import { untilAborted } from "../model/until_aborted.ts";

/** How long the remote sources wait for a server that sends nothing: 30 s. */
export const DEFAULT_IDLE_TIMEOUT = 30_000;

/** The longest idle timeout a timer can hold (2^31 − 1 ms, about 24.8 days). */
export const MAX_IDLE_TIMEOUT = 2_147_483_647;

/** What a request failed with when its server sent nothing for `timeout` milliseconds. */
export class IdleTimeoutError extends Error {
  /** The idle timeout that passed, in milliseconds. */
  readonly timeout: number;
  constructor(timeout: number) {
    super(`the server sent nothing for ${timeout / 1000} s`);
    this.name = "IdleTimeoutError";
    this.timeout = timeout;
  }
}

/**
 * A request's headers as `fetch` takes them: the DOM's `HeadersInit`, spelt out so that the
 * declarations type-check in a project without the DOM library (Node's own types).
 */
export type RequestHeaders = Headers | Record<string, string> | [string, string][];

/** Options for {@linkcode idleFetch}. */
export interface IdleFetchOptions {
  /** The `fetch` to call. */
  fetch: (input: URL, init: RequestInit) => Promise<Response>;
  /** The request's headers. */
  headers?: RequestHeaders;
  /** How `fetch` treats redirects. */
  redirect?: "follow" | "error" | "manual";
  /** Milliseconds without a byte before the request fails; 0 waits for ever. */
  idleTimeout: number;
  /** Aborts the request, body included, with the signal's reason. */
  signal?: AbortSignal;
}

/** The statuses whose response cannot be built with a body. */
const NULL_BODY = [101, 103, 204, 205, 304];

/**
 * Settles as `promise` does, or rejects with the controller's reason once it aborts — at
 * the latest after `timeout` ms (0: never), when it aborts with an
 * {@linkcode IdleTimeoutError}. A `fetch` that ignores its signal cannot hang the caller.
 */
async function within<T>(
  promise: Promise<T>,
  controller: AbortController,
  timeout: number,
): Promise<T> {
  const timer = timeout > 0
    ? setTimeout(() => controller.abort(new IdleTimeoutError(timeout)), timeout)
    : undefined;
  try {
    return (await untilAborted(promise, controller.signal)) as T;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends a request whose server must not fall silent: the response headers must come
 * within `idleTimeout` ms, and each read of the body must deliver within `idleTimeout`
 * ms of being asked for (time the caller takes between reads does not count). Past it,
 * the request is aborted — its connection closed, its body cancelled — and the promise,
 * or the body's read, fails with an {@linkcode IdleTimeoutError}. The caller's signal
 * aborts the request, body included, with its reason, even through a `fetch` that
 * ignores signals. A response with a body is returned as a new `Response` with the same
 * status and headers (and the original's `url`), whose body is the guarded one.
 *
 * @param url Where to send it.
 * @param options The `fetch`, the headers, the redirect mode, the idle timeout, a signal.
 * @returns The response; read its body to the end or cancel it, which releases the
 *   request.
 * @throws {IdleTimeoutError} When no response came within `idleTimeout`.
 * @throws What `fetch` throws, or the signal's reason when it fires.
 *
 * @example A server that never answers, given up on after 50 ms
 * ```ts
 * import { idleFetch, IdleTimeoutError } from "./idle_fetch.ts";
 * import assert from "node:assert/strict";
 * const silent = () => new Promise<Response>(() => {}); // no answer, ever
 * await assert.rejects(
 *   idleFetch(new URL("https://example.com/m.gguf"), { fetch: silent, idleTimeout: 50 }),
 *   IdleTimeoutError,
 * );
 * ```
 */
export async function idleFetch(url: URL, options: IdleFetchOptions): Promise<Response> {
  const { fetch, idleTimeout, signal, ...init } = options;
  const controller = new AbortController();
  const follow = () => controller.abort(signal!.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener("abort", follow, { once: true });
  const release = () => signal?.removeEventListener("abort", follow);
  let response: Response;
  const pending = Promise.resolve().then(() => fetch(url, { ...init, signal: controller.signal }));
  try {
    response = await within(pending, controller, idleTimeout);
  } catch (error) {
    release();
    controller.abort(error);
    // A response that comes after all (from a fetch that ignored the abort) is not read.
    pending.then((late) => late.body?.cancel().catch(() => {}), () => {});
    throw error;
  }
  if (response.body === null) {
    release();
    return response;
  }
  if (NULL_BODY.includes(response.status)) {
    release();
    await response.body.cancel().catch(() => {});
    return response;
  }
  const reader = response.body.getReader();
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    release();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(stream) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await within(reader.read(), controller, idleTimeout);
      } catch (error) {
        if (!open) return; // cancelled meanwhile
        close();
        controller.abort(error);
        reader.cancel(error).catch(() => {});
        throw error;
      }
      if (!open) return;
      if (result.done) {
        close();
        stream.close();
      } else stream.enqueue(result.value);
    },
    async cancel(reason) {
      close();
      const cancelled = reader.cancel(reason).catch(() => {});
      controller.abort(reason);
      await cancelled;
    },
  }, { highWaterMark: 0 });
  const guarded = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(guarded, "url", { value: response.url });
  return guarded;
}

/**
 * Waiting on a promise that a signal can cut short.
 *
 * @module
 */

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` fires: for waits
 * that may never end on their own, such as a write into a pipe whose reader takes nothing.
 * The promise itself runs on; its later rejection is not reported as unhandled.
 *
 * @param promise What to wait on (`undefined`: nothing, resolves at once).
 * @param signal The signal that ends the wait.
 * @returns The promise's value.
 * @throws The signal's reason once it fires (at once when it already has).
 *
 * @example
 * ```ts
 * import { untilAborted } from "./until_aborted.ts";
 * import assert from "node:assert/strict";
 * const controller = new AbortController();
 * const never = new Promise<void>(() => {});
 * const waiting = untilAborted(never, controller.signal);
 * controller.abort(new Error("stop"));
 * await assert.rejects(waiting, /stop/);
 * assert.equal(await untilAborted(Promise.resolve(1), new AbortController().signal), 1);
 * ```
 */
export function untilAborted<T>(
  promise: Promise<T> | undefined,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  if (promise === undefined || signal === undefined) return Promise.resolve(promise);
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

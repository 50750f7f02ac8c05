/**
 * One turn of the event loop, as cheap as the runtime makes it.
 *
 * @module
 */

/** The globals a turn may be taken with. */
interface TurnGlobals {
  setImmediate?: (callback: () => void) => unknown;
  MessageChannel?: typeof MessageChannel;
}

/**
 * Resolves after one turn of the event loop (a macrotask), so that timers, I/O callbacks,
 * abort listeners and worker threads' messages run in between: `setImmediate` where there
 * is one (Deno, Bun, Node), else a message to itself over a `MessageChannel` (a page, an
 * edge isolate), else `setTimeout(0)`. A loop that yields this way between pieces of work
 * lets the rest of the program in without the wait a `setTimeout(0)` costs (1 ms on Bun and
 * Node, and a few on Deno and in a browser, once such timeouts nest).
 *
 * @param globals Where to find the runtime's functions (default `globalThis`).
 * @returns A promise resolved in a later turn.
 *
 * @example A timer runs while a loop yields between its pieces of work
 * ```ts
 * import { nextTurn } from "./next_turn.ts";
 * import assert from "node:assert/strict";
 * let fired = false;
 * setTimeout(() => (fired = true), 0);
 * while (!fired) await nextTurn(); // a microtask loop would never let the timer run
 * assert.equal(fired, true);
 * await nextTurn({ MessageChannel }); // as in a page: no setImmediate
 * await nextTurn({}); // neither: setTimeout(0)
 * ```
 */
export function nextTurn(globals: TurnGlobals = globalThis as TurnGlobals): Promise<void> {
  return new Promise((resolve) => {
    if (typeof globals.setImmediate === "function") globals.setImmediate(resolve);
    else if (typeof globals.MessageChannel === "function") {
      const channel = new globals.MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(undefined);
    } else setTimeout(resolve, 0);
  });
}

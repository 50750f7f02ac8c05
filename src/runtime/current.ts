/**
 * The one place that tells which JavaScript runtime this is, from its globals, and picks
 * its platform; the rest of the library asks {@linkcode RUNTIME} or {@linkcode PLATFORM}
 * instead of probing.
 *
 * @module
 */
import { bunPlatform } from "./bun.ts";
import { denoPlatform } from "./deno.ts";
import { nodePlatform } from "./node.ts";
import type { Platform, Runtime, WorkerEvents, WorkerThread } from "./platform.ts";
import { webPlatform } from "./web.ts";

export type { Runtime, WorkerEvents, WorkerThread };
export { nextTurn } from "./next_turn.ts";

/** The globals that tell runtimes apart. */
interface RuntimeGlobals {
  Deno?: unknown;
  Bun?: unknown;
  process?: { versions?: { node?: unknown } };
  navigator?: { userAgent?: unknown };
}

/**
 * Tells the runtime from its globals: `Bun`, then `Deno` (each also has
 * `process.versions.node`), Cloudflare's workerd (`navigator.userAgent` is
 * `Cloudflare-Workers`), Node (`process.versions.node`), and otherwise a browser — a page
 * or a web worker, or another runtime with only web APIs.
 *
 * @param globals The global object to look at (default `globalThis`).
 * @returns The runtime's name.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "./current.ts";
 * import assert from "node:assert/strict";
 * assert.equal(detectRuntime({ navigator: { userAgent: "Cloudflare-Workers" } }), "workerd");
 * assert.equal(detectRuntime({ navigator: { userAgent: "Mozilla/5.0" } }), "browser");
 * assert.equal(detectRuntime({ process: { versions: { node: "22.18.0" } } }), "node");
 * assert.equal(detectRuntime(), "deno");
 * ```
 */
export function detectRuntime(globals: object = globalThis): Runtime {
  const g = globals as RuntimeGlobals;
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "workerd";
  if (typeof g.process?.versions?.node === "string") return "node";
  return "browser";
}

/** The runtime this module runs in, detected once: see {@linkcode detectRuntime}. */
export const RUNTIME: Runtime = detectRuntime();

/**
 * The platform of the runtime this module runs in: Deno, Bun and Node each have their
 * own; browsers and workerd share the web's, under their own names.
 */
export const PLATFORM: Platform = RUNTIME === "deno"
  ? denoPlatform()
  : RUNTIME === "bun"
  ? bunPlatform()
  : RUNTIME === "node"
  ? nodePlatform()
  : webPlatform(RUNTIME);

/**
 * Tells whether this runtime can run worker threads that share memory with this one.
 *
 * @param module The module the workers would run, when known: under Deno a file module
 *   needs read access (`--allow-read`), checked without a prompt.
 * @returns `true` under Deno, Bun and Node; `false` where there is no `Worker` or no
 *   `SharedArrayBuffer` (an edge isolate, a page that is not cross-origin isolated), or
 *   the module may not be read.
 *
 * @example
 * ```ts
 * import { canStartWorkers } from "./current.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof canStartWorkers(), "boolean");
 * ```
 */
export function canStartWorkers(module?: URL): boolean {
  return PLATFORM.canStartWorkers(module);
}

/**
 * The number of cores this process may use, as the runtime reports it.
 *
 * @returns `navigator.hardwareConcurrency` (Node 20: `os.availableParallelism()`) where it
 *   is a positive integer, else 1.
 *
 * @example
 * ```ts
 * import { availableCores } from "./current.ts";
 * import assert from "node:assert/strict";
 * assert.ok(availableCores() >= 1);
 * ```
 */
export function availableCores(): number {
  return PLATFORM.availableCores();
}

/**
 * Starts a worker thread running the ES module at `url`, which talks through the web
 * globals `onmessage` and `postMessage`. The thread does not keep the process alive
 * until `keepAlive(true)`, where the runtime allows that (Bun, Node); elsewhere the
 * caller must terminate it.
 *
 * @param url The worker module (a `file:` URL next to the caller's module).
 * @param events Receives the worker's messages and its failure.
 * @returns The thread, or `undefined` where this runtime has no worker threads.
 *
 * @example
 * ```ts
 * import { startWorker } from "./current.ts";
 * import assert from "node:assert/strict";
 * const code = "globalThis.onmessage = (e) => postMessage(e.data * 2);";
 * const url = new URL(`data:text/javascript,${encodeURIComponent(code)}`);
 * const reply = await new Promise((resolve, reject) => {
 *   const worker = startWorker(url, {
 *     onMessage: (data) => { worker?.terminate(); resolve(data); },
 *     onError: reject,
 *   });
 *   worker?.postMessage(21);
 * });
 * assert.equal(reply, 42);
 * ```
 */
export function startWorker(url: URL, events: WorkerEvents): WorkerThread | undefined {
  return PLATFORM.startWorker(url, events);
}

/**
 * Worker threads behind one interface: the web `Worker` where the runtime has one (Deno,
 * Bun, browsers), `node:worker_threads` under Node. The worker module itself is written
 * against the web globals (`onmessage`, `postMessage`); under Node a short bootstrap
 * provides them.
 *
 * @module
 */
import { findNodeBuiltin } from "./_node_builtin.ts";

/** A started worker thread. */
export interface WorkerThread {
  /** Sends a message (views of `SharedArrayBuffer`s are shared, not copied). */
  postMessage(message: unknown): void;
  /** Stops the thread at once. */
  terminate(): void;
  /**
   * Whether the thread keeps the process alive: `true` while the caller waits for an
   * answer, `false` while it idles (where the runtime can tell them apart; Deno cannot,
   * so there an idle worker must be terminated).
   */
  keepAlive(alive: boolean): void;
}

/** What a started worker reports. */
export interface WorkerEvents {
  /** Each message the worker posts. */
  onMessage(data: unknown): void;
  /** The worker failed: its module did not load, or it threw outside a message. */
  onError(error: Error): void;
  /**
   * The thread stopped: it exited, was ended by the runtime, or was terminated. Node and
   * Bun tell; Deno and browsers do not, so there a thread that exits without an error is
   * noticed only by waiting on it.
   */
  onExit?(): void;
}

interface WebWorker {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown; preventDefault?(): void }) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
  ref?(): void;
  unref?(): void;
  addEventListener?(type: "close", listener: () => void): void;
}

interface NodeWorker {
  on(event: "message", listener: (data: unknown) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "exit", listener: (code: number) => void): void;
  postMessage(message: unknown): void;
  terminate(): unknown;
  ref(): void;
  unref(): void;
}

type WebWorkerConstructor = new (url: URL, options: { type: "module" }) => WebWorker;
type NodeWorkerConstructor = new (code: string, options: { eval: true }) => NodeWorker;

function nodeWorkerConstructor(): NodeWorkerConstructor | undefined {
  return findNodeBuiltin("node:worker_threads")?.Worker as NodeWorkerConstructor | undefined;
}

function webWorkerConstructor(): WebWorkerConstructor | undefined {
  const { Worker } = globalThis as unknown as { Worker?: WebWorkerConstructor };
  return typeof Worker === "function" ? Worker : undefined;
}

/**
 * Tells whether this runtime can run worker threads that share memory with this one.
 *
 * @returns `true` under Deno, Bun and Node; `false` where there is no `Worker` or no
 *   `SharedArrayBuffer` (an edge isolate, a page that is not cross-origin isolated).
 *
 * @example
 * ```ts
 * import { canStartWorkers } from "./worker_thread.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof canStartWorkers(), "boolean");
 * ```
 */
export function canStartWorkers(): boolean {
  if (typeof SharedArrayBuffer !== "function") return false;
  return webWorkerConstructor() !== undefined || nodeWorkerConstructor() !== undefined;
}

/**
 * The number of cores this process may use, as the runtime reports it.
 *
 * @returns `navigator.hardwareConcurrency` (Node 20: `os.availableParallelism()`) where it
 *   is a positive integer, else 1.
 *
 * @example
 * ```ts
 * import { availableCores } from "./worker_thread.ts";
 * import assert from "node:assert/strict";
 * assert.ok(availableCores() >= 1);
 * ```
 */
export function availableCores(): number {
  const { navigator } = globalThis as { navigator?: { hardwareConcurrency?: number } };
  let cores = navigator?.hardwareConcurrency;
  if (cores === undefined) {
    cores = findNodeBuiltin("node:os")?.availableParallelism?.(); // Node 20 has no navigator
  }
  return Number.isSafeInteger(cores) && cores! > 0 ? cores! : 1;
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
 * import { startWorker } from "./worker_thread.ts";
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
  const Web = webWorkerConstructor();
  if (Web !== undefined) {
    const worker = new Web(url, { type: "module" });
    worker.onmessage = (event) => events.onMessage(event.data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      const cause = event.error;
      events.onError(
        cause instanceof Error ? cause : new Error(event.message ?? "the worker thread failed"),
      );
    };
    // Bun's "close" (the web has no event for a worker that stops).
    worker.addEventListener?.("close", () => events.onExit?.());
    worker.unref?.();
    return {
      postMessage: (message) => worker.postMessage(message),
      terminate: () => worker.terminate(),
      keepAlive: (alive) => alive ? worker.ref?.() : worker.unref?.(),
    };
  }
  const Node = nodeWorkerConstructor();
  if (Node === undefined) return undefined;
  // Under Node the module sees the same web globals as elsewhere; messages that come
  // before it has loaded wait for it, as a web worker's do.
  const bootstrap = `const { parentPort } = require("node:worker_threads");
globalThis.postMessage = (message) => parentPort.postMessage(message);
let early = [];
const deliver = (data) => globalThis.onmessage?.({ data });
parentPort.on("message", (data) => (early === undefined ? deliver(data) : early.push(data)));
import(${JSON.stringify(url.href)}).then(() => {
  const waiting = early;
  early = undefined;
  waiting.forEach(deliver);
}, (error) => setImmediate(() => { throw error; }));`;
  const worker = new Node(bootstrap, { eval: true });
  worker.on("message", (data) => events.onMessage(data));
  worker.on("error", (error) => events.onError(error));
  worker.on("exit", () => events.onExit?.());
  worker.unref();
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: () => void worker.terminate(),
    keepAlive: (alive) => alive ? worker.ref() : worker.unref(),
  };
}

/**
 * The platform under Node: files through `node:fs`, standard streams through file
 * descriptors 0 and 1, worker threads through `node:worker_threads` (or the web `Worker`
 * where one exists), no file mapping and no page-cache advice. Node built-ins are reached
 * lazily (`process.getBuiltinModule`), so this module loads in every runtime; Deno and Bun
 * build their platforms on the parts they share with it.
 *
 * @module
 */
import { findNodeBuiltin, nodeBuiltin } from "./_node_builtin.ts";
import type {
  FileInfo,
  FileKind,
  FileSystem,
  OutputFile,
  Platform,
  ProcessControl,
  ReadHandle,
  StandardStreams,
  WorkerEvents,
  WorkerThread,
} from "./platform.ts";

type Stats = import("node:fs").Stats;

function kindOf(stat: Stats): FileKind {
  if (stat.isFile()) return "file";
  if (stat.isDirectory()) return "directory";
  if (stat.isSymbolicLink()) return "symlink";
  if (stat.isFIFO()) return "fifo";
  if (stat.isSocket()) return "socket";
  if (stat.isCharacterDevice()) return "character-device";
  if (stat.isBlockDevice()) return "block-device";
  return "other";
}

/** A `node:fs` stat result as the platform's {@linkcode FileInfo}. */
function fileInfo(stat: Stats): FileInfo {
  return { kind: kindOf(stat), size: stat.size, dev: stat.dev, ino: stat.ino };
}

/**
 * The most bytes one `node:fs` read or write asks for (128 MiB). Node's, Deno's and Bun's
 * `node:fs` take a length of at most 2^31 − 1: a longer one is a `RangeError` or, in
 * Node's positional read, a native assertion that aborts the process. The platform's
 * reads and writes may be short (Linux moves at most 2^31 − 4096 bytes per call anyway),
 * so their callers already loop; a longer request just takes more calls.
 */
const MAX_IO_BYTES = 2 ** 27;

async function openRead(path: string): Promise<ReadHandle> {
  // Non-blocking where the runtime allows, should the path become a pipe meanwhile.
  const { O_RDONLY, O_NONBLOCK } = nodeBuiltin("node:fs").constants ?? {};
  const handle = await nodeBuiltin("node:fs/promises").open(
    path,
    O_NONBLOCK === undefined ? "r" : O_RDONLY | O_NONBLOCK,
  );
  return {
    // A short read is the caller's to continue, as any other.
    read: async (into, at, length, position) =>
      (await handle.read(into, at, Math.min(length, MAX_IO_BYTES), position)).bytesRead,
    stat: async () => fileInfo(await handle.stat()),
    close: () => handle.close(),
  };
}

/**
 * Creates the file with `wx`; `node:fs` handles write on the runtime's thread pool.
 * Resolves with the file and its descriptor (for a runtime that adds calls of its own).
 */
export async function createNewWithDescriptor(
  path: string,
): Promise<{ file: OutputFile; fd: number }> {
  const handle = await nodeBuiltin("node:fs/promises").open(path, "wx");
  const file: OutputFile = {
    write: async (bytes) =>
      (await handle.write(bytes, 0, Math.min(bytes.length, MAX_IO_BYTES))).bytesWritten,
    datasync: () => handle.datasync(),
    close: () => handle.close(),
  };
  return { file, fd: handle.fd };
}

/** Creates the file with `wx`; `node:fs` handles write on the runtime's thread pool. */
async function createNew(path: string): Promise<OutputFile> {
  return (await createNewWithDescriptor(path)).file;
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await nodeBuiltin("node:fs/promises").open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Files through `node:fs` and paths through `node:path`. */
const nodeFiles: FileSystem = {
  stat: async (path) => fileInfo(await nodeBuiltin("node:fs/promises").stat(path)),
  statSync: (path, follow) =>
    fileInfo(
      follow ? nodeBuiltin("node:fs").statSync(path) : nodeBuiltin("node:fs").lstatSync(path),
    ),
  realPath: (path) => nodeBuiltin("node:fs").realpathSync(path),
  listDirectory: (path) => nodeBuiltin("node:fs").readdirSync(path),
  openRead,
  createNew,
  rename: (from, to) => nodeBuiltin("node:fs/promises").rename(from, to),
  link: (existing, name) => nodeBuiltin("node:fs/promises").link(existing, name),
  remove: (path) => nodeBuiltin("node:fs/promises").rm(path, { force: true }),
  removeSync: (path) => nodeBuiltin("node:fs").rmSync(path, { force: true }),
  syncDirectory,
  dirname: (path) => nodeBuiltin("node:path").dirname(path),
  basename: (path) => nodeBuiltin("node:path").basename(path),
  join: (...parts) => nodeBuiltin("node:path").join(...parts),
};

/** Retry delay when a non-blocking descriptor has no data yet. */
export const EAGAIN_DELAY_MS = 2;

/**
 * A byte stream over a file descriptor, read with `node:fs` straight into the reader's
 * buffer (BYOB), so a BYOB reader allocates nothing per chunk.
 */
function fileDescriptorStream(fd: number): ReadableStream<Uint8Array> {
  let fs: typeof import("node:fs") | undefined;
  const readInto = (view: Uint8Array): Promise<number> =>
    new Promise((resolve, reject) => {
      fs!.read(fd, view, 0, Math.min(view.byteLength, MAX_IO_BYTES), null, (error, bytesRead) => {
        if (error === null) resolve(bytesRead);
        else if (error.code === "EAGAIN") {
          setTimeout(() => readInto(view).then(resolve, reject), EAGAIN_DELAY_MS);
        } else reject(error);
      });
    });
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 64 * 1024,
    async pull(controller) {
      fs ??= nodeBuiltin("node:fs");
      const request = controller.byobRequest!;
      const view = request.view!;
      const bytesRead = await readInto(
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
      );
      if (bytesRead === 0) {
        controller.close();
        request.respond(0);
      } else {
        request.respond(bytesRead);
      }
    },
  });
}

/**
 * Writes all of `bytes` to a file descriptor with blocking writes on the runtime's thread
 * pool (as `cat` does: faster into a pipe than `process.stdout` under Bun, and this
 * thread stays free), at most {@linkcode MAX_IO_BYTES} per call, retrying short writes
 * and, on a non-blocking descriptor, `EAGAIN`.
 * `process.stdout` is left alone: under Bun and Node, touching it makes a pipe
 * non-blocking, and every write then meets `EAGAIN`.
 */
/** Writes by {@linkcode writeAll} still running on the thread pool. */
let writesPending = 0;
/**
 * `node:worker_threads` workers started and not yet ended: one may be blocked in a write
 * (`writeStdoutSync` into a full pipe), which `exit()` would wait on for ever.
 */
let workersAlive = 0;

function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  const fs = nodeBuiltin("node:fs");
  writesPending++;
  return new Promise<void>((resolve, reject) => {
    const from = (done: number) => {
      if (done >= bytes.length) return resolve();
      const length = Math.min(bytes.length - done, MAX_IO_BYTES);
      fs.write(fd, bytes, done, length, null, (error, written) => {
        if (error === null) from(done + written);
        else if (error.code === "EAGAIN") setTimeout(() => from(done), EAGAIN_DELAY_MS);
        else reject(error);
      });
    };
    from(0);
  }).finally(() => writesPending--);
}

/** Blocks this thread for `ms` milliseconds (a descriptor someone made non-blocking). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The first wait after `EAGAIN`, in milliseconds: a pipe's reader takes a buffer in less. */
const EAGAIN_FIRST_MS = 0.02;

/**
 * Waits between blocking calls on a descriptor that meets `EAGAIN` (a pipe another
 * process, or the runtime, made non-blocking): 20 µs at first, doubling up to
 * {@linkcode EAGAIN_DELAY_MS} while it stays busy. A fixed 2 ms wait per `EAGAIN` made a
 * conversion into a fast reader's pipe ten times slower.
 *
 * @returns A function that waits once, longer each call.
 *
 * @example
 * ```ts
 * import { eagainBackoff } from "./node.ts";
 * const wait = eagainBackoff();
 * wait(); // 0.02 ms
 * wait(); // 0.04 ms
 * ```
 */
export function eagainBackoff(): () => void {
  let ms = EAGAIN_FIRST_MS;
  return () => {
    pause(ms);
    ms = Math.min(ms * 2, EAGAIN_DELAY_MS);
  };
}

/**
 * One blocking call on a descriptor, retried after a pause while it meets `EAGAIN` (a
 * pipe another process made non-blocking) and at once on `EINTR`.
 */
function retrying(call: () => number): number {
  const wait = eagainBackoff();
  for (;;) {
    try {
      return call();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "EAGAIN") wait();
      else if (code !== "EINTR") throw error;
    }
  }
}

/** Standard input and output through file descriptors 0 and 1. */
const nodeStdio: StandardStreams = {
  stdin: () => fileDescriptorStream(0),
  writeStdout: (bytes) => writeAll(1, bytes),
  stat: (fd) => fileInfo(nodeBuiltin("node:fs").fstatSync(fd)),
  readStdinSync(into) {
    const fs = nodeBuiltin("node:fs");
    const length = Math.min(into.length, MAX_IO_BYTES);
    return retrying(() => fs.readSync(0, into, 0, length, null));
  },
  writeStdoutSync: (bytes) => writeAllSync(1, bytes),
};

/** Writes all of `bytes` to descriptor `fd` with blocking writes, through short writes and `EAGAIN`. */
function writeAllSync(fd: number, bytes: Uint8Array): void {
  const fs = nodeBuiltin("node:fs");
  for (let done = 0; done < bytes.length;) {
    const length = Math.min(bytes.length - done, MAX_IO_BYTES);
    done += retrying(() => fs.writeSync(fd, bytes, done, length));
  }
}

interface WebWorker {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown; preventDefault?(): void }) => void) | null;
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): void;
  ref?(): void;
  unref?(): void;
  addEventListener?(type: "close", listener: () => void): void;
}

/** A worker's side of its standard output or error, as `{ stdout: true }` hands it over. */
interface NodeWorkerOutput {
  on(event: "data", listener: (chunk: Uint8Array) => void): void;
}

interface NodeWorker {
  stdout: NodeWorkerOutput;
  stderr: NodeWorkerOutput;
  on(event: "message", listener: (data: unknown) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "exit", listener: (code: number) => void): void;
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): unknown;
  ref(): void;
  unref(): void;
}

type WebWorkerConstructor = new (url: URL, options: { type: "module" }) => WebWorker;
type NodeWorkerConstructor = new (
  code: string,
  options: { eval: true; stdout: true; stderr: true },
) => NodeWorker;

function nodeWorkerConstructor(): NodeWorkerConstructor | undefined {
  return findNodeBuiltin("node:worker_threads")?.Worker as NodeWorkerConstructor | undefined;
}

function webWorkerConstructor(): WebWorkerConstructor | undefined {
  const { Worker } = globalThis as unknown as { Worker?: WebWorkerConstructor };
  return typeof Worker === "function" ? Worker : undefined;
}

/**
 * Whether worker threads sharing memory can start: `false` where there is no `Worker` or
 * no `SharedArrayBuffer` (an edge isolate, a page that is not cross-origin isolated).
 *
 * @returns Whether workers can start.
 *
 * @example
 * ```ts
 * import { canStartWorkers } from "./node.ts";
 * import assert from "node:assert/strict";
 * assert.equal(canStartWorkers(), true); // Deno, Bun and Node all have workers
 * ```
 */
export function canStartWorkers(): boolean {
  if (typeof SharedArrayBuffer !== "function") return false;
  return webWorkerConstructor() !== undefined || nodeWorkerConstructor() !== undefined;
}

/**
 * The cores this process may use: `navigator.hardwareConcurrency` (Node 20:
 * `os.availableParallelism()`) where it is a positive integer, else 1.
 *
 * @returns The core count.
 *
 * @example
 * ```ts
 * import { availableCores } from "./node.ts";
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
 * Starts a worker with the web `Worker` (Deno, Bun, browsers), which reports no exit
 * except Bun's `close` event.
 *
 * @param url The worker module.
 * @param events Receives the worker's messages, failure and exit.
 * @returns The thread, or `undefined` where there is no `Worker`.
 *
 * @example
 * ```ts
 * import { startWebWorker } from "./node.ts";
 * import assert from "node:assert/strict";
 * const url = new URL(`data:text/javascript,${encodeURIComponent("postMessage(7);")}`);
 * const reply = await new Promise((resolve, reject) => {
 *   const worker = startWebWorker(url, {
 *     onMessage: (data) => { worker?.terminate(); resolve(data); },
 *     onError: reject,
 *   });
 * });
 * assert.equal(reply, 7);
 * ```
 */
export function startWebWorker(url: URL, events: WorkerEvents): WorkerThread | undefined {
  const Web = webWorkerConstructor();
  if (Web === undefined) return undefined;
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
    postMessage: (message, transfer) => worker.postMessage(message, transfer ?? []),
    terminate: () => worker.terminate(),
    keepAlive: (alive) => alive ? worker.ref?.() : worker.unref?.(),
  };
}

/**
 * Starts a worker: the web `Worker` where the runtime has one, else `node:worker_threads`
 * with a short bootstrap that gives the module the web globals (`onmessage`,
 * `postMessage`); messages that come before the module has loaded wait for it, as a web
 * worker's do.
 */
function startWorker(url: URL, events: WorkerEvents): WorkerThread | undefined {
  const web = startWebWorker(url, events);
  if (web !== undefined) return web;
  const Node = nodeWorkerConstructor();
  if (Node === undefined) return undefined;
  const bootstrap = `const { parentPort } = require("node:worker_threads");
globalThis.postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
let early = [];
const deliver = (data) => globalThis.onmessage?.({ data });
parentPort.on("message", (data) => (early === undefined ? deliver(data) : early.push(data)));
import(${JSON.stringify(url.href)}).then(() => {
  const waiting = early;
  early = undefined;
  waiting.forEach(deliver);
}, (error) => setImmediate(() => { throw error; }));`;
  // Node would pipe the worker's output into process.stdout and process.stderr, and
  // touching either makes a pipe on descriptor 1 non-blocking: every blocking write of a
  // conversion into it (writeStdoutSync) then meets EAGAIN. Taken here instead: what the
  // worker prints on standard error is passed on by descriptor, on standard output
  // dropped (the converted bytes go there).
  const worker = new Node(bootstrap, { eval: true, stdout: true, stderr: true });
  worker.stdout.on("data", () => {});
  worker.stderr.on("data", (chunk) => {
    try {
      writeAllSync(2, chunk);
    } catch {
      // Standard error closed or full: nowhere to say it.
    }
  });
  workersAlive++;
  worker.on("message", (data) => events.onMessage(data));
  worker.on("error", (error) => events.onError(error));
  worker.on("exit", () => {
    workersAlive--;
    events.onExit?.();
  });
  worker.unref();
  return {
    postMessage: (message, transfer) => worker.postMessage(message, transfer ?? []),
    terminate: () => void worker.terminate(),
    keepAlive: (alive) => alive ? worker.ref() : worker.unref(),
  };
}

interface NodeProcess {
  platform?: string;
  pid?: number;
  kill?(pid: number, signal: number | string): void;
  stdin: { isTTY?: boolean };
  stderr: { columns?: number };
  resourceUsage?(): { maxRSS: number };
  memoryUsage(): { rss: number };
  on(name: string, listener: () => void): void;
  off(name: string, listener: () => void): void;
  removeAllListeners(name: string): void;
}

function nodeProcess(): NodeProcess | undefined {
  return (globalThis as { process?: NodeProcess }).process;
}

/** Whether a process runs: signal 0 probes it; `ESRCH` alone means it is gone. */
function processAlive(pid: number): boolean {
  try {
    nodeProcess()?.kill?.(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== "ESRCH";
  }
}

/** The process through Node's `process` global (Deno and Bun have it too). */
const nodeProcessControl: ProcessControl = {
  stdinIsTerminal: () => nodeProcess()!.stdin.isTTY === true,
  stderrColumns: () => nodeProcess()!.stderr.columns || undefined,
  peakMemory() {
    const process = nodeProcess()!;
    try {
      // Deno, Bun and Node all give `maxRSS`, in KiB.
      const maxRss = process.resourceUsage?.().maxRSS;
      if (typeof maxRss === "number" && maxRss > 0) return maxRss * 1024;
    } catch {
      // Fall through to the current size.
    }
    return process.memoryUsage().rss;
  },
  onSignal(name, listener) {
    const process = nodeProcess()!;
    process.on(name, listener);
    return () => process.off(name, listener);
  },
};

/**
 * The parts of a platform every runtime with Node's built-ins shares (Deno and Bun
 * included), given its name.
 *
 * @param name The runtime's name.
 * @param displayName How messages name it.
 * @param identity The system's name (as Node's `process.platform`) and the process id,
 *   where the runtime tells them without Node's `process` (under Deno, whose `process`
 *   loads its Node compatibility layer, tens of milliseconds at each thread's start).
 * @returns A platform without mapping or page-cache advice.
 *
 * @example
 * ```ts
 * import { nodeLikePlatform } from "./node.ts";
 * import assert from "node:assert/strict";
 * const platform = nodeLikePlatform("node", "Node");
 * assert.equal(platform.mapFile, undefined);
 * assert.equal((await platform.files!.stat(".")).kind, "directory");
 * ```
 */
export function nodeLikePlatform(
  name: Platform["name"],
  displayName: string,
  identity?: Pick<Platform, "os" | "pid">,
): Platform {
  return {
    name,
    displayName,
    os: identity === undefined ? nodeProcess()?.platform : identity.os,
    pid: identity === undefined ? nodeProcess()?.pid ?? 0 : identity.pid,
    files: nodeFiles,
    stdio: nodeStdio,
    process: nodeProcessControl,
    processAlive,
    canStartWorkers,
    startWorker,
    availableCores,
  };
}

/**
 * The platform under Node: no mapping, no page-cache advice.
 *
 * @returns A new platform object (`current.ts` makes the one in use).
 */
export function nodePlatform(): Platform {
  const platform = nodeLikePlatform("node", "Node");
  return {
    ...platform,
    process: {
      ...nodeProcessControl,
      endBySignal(name) {
        if (writesPending === 0 && workersAlive === 0) return;
        const process = nodeProcess()!;
        process.removeAllListeners(name);
        process.kill?.(process.pid!, name);
      },
    },
  };
}

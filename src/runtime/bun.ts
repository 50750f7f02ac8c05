/**
 * The platform under Bun: files, standard streams and workers as under Node (Bun's
 * `node:fs`), mapping through `Bun.mmap`, page-cache advice through `bun:ffi`, and the
 * output's range write-backs (`sync_file_range`) through `bun:ffi` in a worker thread.
 *
 * Mapping: `Bun.mmap`. Mappings are private (`shared: false`): a write into a
 * view changes only this process's copy, never the file. `Bun.mmap` maps at most 4 GiB
 * at once, so larger files are mapped in windows, one per requested range. Bun unmaps a
 * mapping when its last view is garbage-collected. A file truncated by another process
 * while mapped can crash Bun: do not modify a model while it is open.
 *
 * @module
 */
import { type ByteSource, checkRange } from "../model/byte_source.ts";
import { createNewWithDescriptor, nodeLikePlatform } from "./node.ts";
import type { OutputFile, Platform, WorkerThread } from "./platform.ts";
import { FADV_DONTNEED, libcAdvice, type LibcCalls } from "./_fadvise.ts";
import { SYNC_FILE_RANGE_WAIT_ALL, withWriteBack } from "./_write_back.ts";

interface BunMmap {
  mmap(path: string, options?: { shared?: boolean; offset?: number; size?: number }): Uint8Array;
}

/** The largest range one `Bun.mmap` call maps. */
const MAX_BUN_MAPPING = 2 ** 32 - 1;
/** Window starts are multiples of this (a multiple of every common page size). */
const WINDOW_ALIGNMENT = 65536;

/**
 * Maps `path` (of `size` bytes, > 0) with `Bun.mmap`. `view()` goes through the mapping;
 * `read()` copies through `reader` (positional reads), so bulk reads such as
 * dequantization do not keep file pages resident in the mapping.
 *
 * @param path The file to map.
 * @param reader A positional-read source over the same file; closed by `close()`.
 * @returns A source whose `kind` is `"mmap"`.
 */
function openBunMmapSource(path: string, reader: ByteSource): ByteSource {
  const size = reader.size;
  const bun = (globalThis as unknown as { Bun: BunMmap }).Bun;
  const whole = size <= MAX_BUN_MAPPING ? bun.mmap(path, { shared: false }) : undefined;
  const view = (offset: number, length: number): Uint8Array | undefined => {
    checkRange(size, offset, length);
    if (whole !== undefined) return whole.subarray(offset, offset + length);
    const start = Math.floor(offset / WINDOW_ALIGNMENT) * WINDOW_ALIGNMENT;
    const span = offset - start + length;
    if (span > MAX_BUN_MAPPING) return undefined;
    if (span === 0) return new Uint8Array(0);
    let window: Uint8Array;
    try {
      window = bun.mmap(path, { shared: false, offset: start, size: span });
    } catch {
      return undefined; // no view: the caller reads by position
    }
    return window.subarray(offset - start, offset - start + length);
  };
  return {
    kind: "mmap",
    size,
    view,
    read: (offset, length, into) => reader.read(offset, length, into),
    close: () => reader.close(),
  };
}

/** `bun:ffi`, reached without an import a bundler would try to resolve. */
interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => number> };
  /** The address of a view's first byte. */
  ptr(view: ArrayBufferView): number;
}

/** libc through `bun:ffi` on Linux; `null` elsewhere. */
function bindLibc(): LibcCalls | null {
  const process = (globalThis as {
    process?: { platform?: string; getBuiltinModule?: (id: string) => unknown };
  }).process;
  const ffi = process?.getBuiltinModule?.("bun:ffi") as BunFfi | undefined;
  if (process?.platform !== "linux" || ffi === undefined) return null;
  const f = ffi.dlopen("libc.so.6", {
    open: { args: ["ptr", "i32"], returns: "i32" },
    close: { args: ["i32"], returns: "i32" },
    posix_fadvise: { args: ["i32", "i64", "i64", "i32"], returns: "i32" },
    fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
    madvise: { args: ["u64", "u64", "i32"], returns: "i32" },
  }).symbols;
  return {
    open: (name, flags) => f.open(name, flags),
    close: (fd) => f.close(fd),
    dontNeed: (fd) => f.posix_fadvise(fd, 0, 0, FADV_DONTNEED),
    fcntl: (fd, cmd, arg) => f.fcntl(fd, cmd, arg),
    address: (bytes) => BigInt(ffi.ptr(bytes)),
    madvise: (at, length, advice) => f.madvise(at, length, advice),
  };
}

/** The parts Bun shares with Node's platform: made by {@linkcode bunPlatform}. */
let shared: Platform;

/**
 * The thread making write-backs, shared by the open output files: started at the first
 * write-back (a small output never starts it), stopped when the last file closes. Answers
 * come in the order of the requests.
 */
interface WriteBackThread {
  thread: WorkerThread;
  waiting: ((result: number) => void)[];
}
let writeBackThread: WriteBackThread | null | undefined;
let openOutputs = 0;

/** A write-back asked of the thread: `sync_file_range(fd, offset, length, flags)`. */
interface WriteBackRequest {
  fd: number;
  offset: number;
  length: number;
  flags: number;
}

/**
 * The write-back thread's whole program, run from its source text (so that no module file
 * has to be found beside this one, in a bundle or not): `bun:ffi` calls block the thread
 * that makes them, and `sync_file_range` waits for the disk, so the calls run there, one
 * message at a time, each answered with the call's result (0, or -1). A failure to load
 * (no `bun:ffi`, no libc) is the worker's error: the caller then flushes with `datasync()`.
 * It must name nothing outside itself.
 */
function writeBackProgram(): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: { data: WriteBackRequest }) => void) | null;
    postMessage(result: number): void;
    process: { getBuiltinModule(id: string): BunFfi };
  };
  const { sync_file_range } = scope.process.getBuiltinModule("bun:ffi").dlopen("libc.so.6", {
    sync_file_range: { args: ["i32", "i64", "i64", "u32"], returns: "i32" },
  }).symbols;
  scope.onmessage = ({ data }) => {
    scope.postMessage(sync_file_range(data.fd, data.offset, data.length, data.flags));
  };
}

const WRITE_BACK_WORKER = new URL(
  `data:text/javascript,${encodeURIComponent(`(${writeBackProgram.toString()})();`)}`,
);

/** Starts the write-back thread; `null` where no worker can be started. */
function startWriteBackThread(): WriteBackThread | null {
  const waiting: ((result: number) => void)[] = [];
  let thread: WorkerThread | undefined = undefined;
  const fail = () => {
    // Not again in this process: datasync() from now on.
    if (writeBackThread?.waiting === waiting) writeBackThread = null;
    for (const answer of waiting.splice(0)) answer(-1);
    thread?.terminate();
  };
  thread = shared.startWorker(WRITE_BACK_WORKER, {
    onMessage: (result) => {
      waiting.shift()?.(typeof result === "number" ? result : -1);
      if (waiting.length === 0) thread?.keepAlive(false);
    },
    onError: fail,
    onExit: () => waiting.length > 0 && fail(),
  });
  return thread === undefined ? null : { thread, waiting };
}

/** Asks the write-back thread for one range; -1 where it cannot be had. */
function syncRangeInWorker(request: WriteBackRequest): Promise<number> {
  if (writeBackThread === undefined) writeBackThread = startWriteBackThread();
  const active = writeBackThread;
  if (active === null) return Promise.resolve(-1);
  return new Promise((resolve) => {
    active.waiting.push(resolve);
    active.thread.keepAlive(true);
    active.thread.postMessage(request);
  });
}

/** The output file through `node:fs`, with range write-backs on Linux. */
async function createNew(path: string): Promise<OutputFile> {
  const { file, fd } = await createNewWithDescriptor(path);
  if (shared.os !== "linux") return file;
  openOutputs++;
  const closed = () => {
    if (--openOutputs > 0 || !writeBackThread) return;
    writeBackThread.thread.terminate();
    writeBackThread = undefined;
  };
  return withWriteBack(
    file,
    (offset, length) => syncRangeInWorker({ fd, offset, length, flags: SYNC_FILE_RANGE_WAIT_ALL }),
    closed,
  );
}

/**
 * The platform under Bun.
 *
 * @returns A new platform object (`current.ts` makes the one in use).
 */
export function bunPlatform(): Platform {
  shared = nodeLikePlatform("bun", "Bun");
  return {
    ...shared,
    files: { ...shared.files!, createNew },
    mapFile: openBunMmapSource,
    ...libcAdvice(bindLibc),
  };
}

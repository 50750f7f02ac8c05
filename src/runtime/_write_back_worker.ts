/**
 * Bun's write-back thread: `bun:ffi` calls block the thread that makes them, and
 * `sync_file_range` waits for the disk, so the calls run here, one message at a time,
 * while the main thread converts. Each message is `{ fd, offset, length }` (a descriptor
 * of this process, shared by every thread); the answer is the call's result, 0 or -1.
 * A load failure (no `bun:ffi`, no libc) is the worker's error: the caller then flushes
 * with `datasync()`.
 *
 * @module
 */
import { SYNC_FILE_RANGE_WAIT_ALL } from "./_write_back.ts";

/** A write-back asked of this thread. */
export interface WriteBackRequest {
  fd: number;
  offset: number;
  length: number;
}

interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => number> };
}

const scope = globalThis as unknown as {
  onmessage: ((event: { data: WriteBackRequest }) => void) | null;
  postMessage(result: number): void;
  process?: { getBuiltinModule?: (id: string) => unknown };
};
const ffi = scope.process?.getBuiltinModule?.("bun:ffi") as BunFfi | undefined;
if (ffi === undefined) throw new Error("no bun:ffi in this runtime");
const { sync_file_range } = ffi.dlopen("libc.so.6", {
  sync_file_range: { args: ["i32", "i64", "i64", "u32"], returns: "i32" },
}).symbols;

scope.onmessage = ({ data }) => {
  scope.postMessage(
    sync_file_range(data.fd, data.offset, data.length, SYNC_FILE_RANGE_WAIT_ALL),
  );
};

/**
 * Writing a growing output file back to the disk range by range, through Linux's
 * `sync_file_range(fd, offset, length, WAIT_BEFORE | WRITE | WAIT_AFTER)`: the range's
 * pages go to the disk and the call returns once they are there, with no journal commit
 * and no flush of the disk's cache. A `datasync()` of a file that grows commits the
 * journal (its size changed) and flushes the disk's cache each time; done every 64 MiB
 * while converting, that costs more than the conversion's own writes on a virtual disk.
 * Only the final `datasync()` before the rename makes the file durable; write-backs only
 * keep the page cache's unwritten bytes few, so that flush has little left to do.
 *
 * The steps are the same wherever the call is reached; how it is reached differs: Deno
 * calls libc on its own thread pool (a `nonblocking` FFI symbol), Bun in a worker thread
 * (its FFI calls block the calling thread).
 *
 * @module
 */
import type { OutputFile } from "./platform.ts";

/** `SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER`. */
export const SYNC_FILE_RANGE_WAIT_ALL = 7;

/** `O_WRONLY | O_CLOEXEC` on Linux. */
export const O_WRONLY_CLOEXEC = 0o2000001;

/**
 * Gives an output file `writeBack()` over a range call on a descriptor of the same file.
 * `close()` waits for a write-back still running before closing the descriptor (so the
 * call never meets a number the system has given to another file), then the file.
 *
 * @param file The output file.
 * @param syncRange `sync_file_range(offset, length)` with all three flags; resolves with
 *   the call's result (0, or -1 on failure).
 * @param closeDescriptor Closes the descriptor `syncRange` uses, when it is not the file's.
 * @returns The file, with `writeBack()`.
 *
 * @example
 * ```ts
 * import { withWriteBack } from "./_write_back.ts";
 * import assert from "node:assert/strict";
 * const calls: number[][] = [];
 * const file = withWriteBack(
 *   { write: (b) => Promise.resolve(b.length), datasync: () => Promise.resolve(), close: () => Promise.resolve() },
 *   (offset, length) => Promise.resolve(calls.push([offset, length]) && 0),
 * );
 * await file.writeBack!(0, 4096);
 * await file.close();
 * assert.deepEqual(calls, [[0, 4096]]);
 * ```
 */
export function withWriteBack(
  file: OutputFile,
  syncRange: (offset: number, length: number) => Promise<number>,
  closeDescriptor?: () => void,
): OutputFile {
  let running: Promise<unknown> = Promise.resolve();
  return {
    write: (bytes) => file.write(bytes),
    datasync: () => file.datasync(),
    writeBack(offset, length) {
      const call = syncRange(offset, length).then((result) => {
        if (result !== 0) throw new Error("sync_file_range failed");
      });
      running = call.catch(() => {});
      return call;
    },
    async close() {
      await running;
      closeDescriptor?.();
      await file.close();
    },
  };
}

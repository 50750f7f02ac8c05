/**
 * A larger pipe buffer for standard input or output: Linux gives a pipe 64 KiB, so a
 * converter writing gigabytes into `| cat` hands them over 64 KiB at a time, each a wake-up
 * of the other side; `fcntl(fd, F_SETPIPE_SZ, 1 MiB)` (the unprivileged maximum, by default)
 * makes that sixteen times fewer. Only the buffer's size changes, never the bytes.
 *
 * @module
 */

/** `F_SETPIPE_SZ` on Linux. */
const F_SETPIPE_SZ = 1031;
/** The size asked for: Linux's default `/proc/sys/fs/pipe-max-size`. */
export const PIPE_BYTES = 1 << 20;

/**
 * Asks for a 1 MiB buffer on a pipe; `false` where that cannot be done (no `fcntl`, or the
 * system refuses, e.g. a lower `pipe-max-size`). Call it only for a descriptor known to be
 * a pipe.
 *
 * @param fd The descriptor (0 or 1).
 * @param fcntl libc's `fcntl(fd, cmd, arg)`, or `null` where there is none.
 * @returns Whether the buffer is now at least 1 MiB.
 *
 * @example
 * ```ts
 * import { growPipeWith } from "./_pipe_size.ts";
 * import assert from "node:assert/strict";
 * assert.equal(growPipeWith(1, null), false);
 * assert.equal(growPipeWith(1, () => 1 << 20), true);
 * assert.equal(growPipeWith(1, () => -1), false);
 * ```
 */
export function growPipeWith(
  fd: number,
  fcntl: ((fd: number, cmd: number, arg: number) => number) | null,
): boolean {
  if (fcntl === null) return false;
  try {
    return fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES) >= PIPE_BYTES;
  } catch {
    return false;
  }
}

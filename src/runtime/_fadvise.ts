/**
 * Dropping a file's cached pages through libc's `posix_fadvise(POSIX_FADV_DONTNEED)`: the
 * steps are the same wherever libc is reached (Deno's and Bun's FFI); only how the calls
 * are bound differs.
 *
 * @module
 */

/** `POSIX_FADV_DONTNEED` on Linux. */
export const FADV_DONTNEED = 4;
const O_RDONLY = 0;

/** libc's calls as an adapter binds them. */
export interface AdviceCalls {
  /** `open(path, flags)`, the path a NUL-terminated C string. */
  open(path: Uint8Array, flags: number): number;
  /** `close(fd)`. */
  close(fd: number): number;
  /** `posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)`. */
  dontNeed(fd: number): number;
}

/**
 * Drops a file's cached pages; `false` wherever that cannot be done (no calls, a path
 * holding a NUL, which would end the C string early and name another file, or a failing
 * call).
 *
 * @param path The file.
 * @param calls libc's calls, or `null` where there are none.
 * @returns Whether the advice was given.
 */
export function dropCachedPagesWith(path: string, calls: AdviceCalls | null): boolean {
  if (calls === null || path.includes("\0")) return false;
  try {
    const fd = calls.open(new TextEncoder().encode(path + "\0"), O_RDONLY);
    if (fd < 0) return false;
    try {
      return calls.dontNeed(fd) === 0;
    } finally {
      calls.close(fd);
    }
  } catch {
    return false;
  }
}

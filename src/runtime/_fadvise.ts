/**
 * Advice to the kernel through libc: dropping a file's cached pages
 * (`posix_fadvise(POSIX_FADV_DONTNEED)`), a larger pipe, a buffer's memory backed in one
 * call. The steps are the same wherever libc is reached (Deno's and Bun's FFI); only how
 * the calls are bound differs.
 *
 * @module
 */

import { growPipeWith } from "./_pipe_size.ts";
import { type PrefaultCalls, prefaultWith } from "./_prefault.ts";
import type { Platform } from "./platform.ts";

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
 * Every libc call the adapters bind: advice, `fcntl(fd, cmd, arg)` for pipe sizes, and
 * `madvise` with a buffer's address for prefaulting.
 */
export interface LibcCalls extends AdviceCalls, PrefaultCalls {
  /** `fcntl(fd, cmd, arg)` with an integer argument. */
  fcntl(fd: number, cmd: number, arg: number): number;
}

/**
 * The platform's page-cache advice, pipe sizing and prefaulting over libc calls that an
 * adapter binds through its own FFI; `bind` runs at the first use, once, and gives `null`
 * where there is no libc to call (no FFI, not granted, not glibc Linux).
 *
 * @param bind Binds the calls.
 * @returns `dropCachedPages`, `growPipe` and `prefault` for the adapter's
 *   {@linkcode Platform}.
 */
export function libcAdvice(
  bind: () => LibcCalls | null,
): Required<Pick<Platform, "dropCachedPages" | "growPipe" | "prefault">> {
  let calls: LibcCalls | null | undefined;
  const libc = () => {
    if (calls === undefined) {
      try {
        calls = bind();
      } catch {
        calls = null; // No such library, or FFI refused: no advice.
      }
    }
    return calls;
  };
  return {
    dropCachedPages: (path) => dropCachedPagesWith(path, libc()),
    growPipe: (fd) => {
      const c = libc();
      return growPipeWith(fd, c && ((fd, cmd, arg) => c.fcntl(fd, cmd, arg)));
    },
    prefault: (bytes) => prefaultWith(bytes, libc()),
  };
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

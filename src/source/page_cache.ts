/**
 * Telling the kernel a file's cached pages are of no further use
 * (`posix_fadvise(POSIX_FADV_DONTNEED)`), through each runtime's FFI: libc via
 * `Deno.dlopen` (only when FFI is already allowed: an optimization never prompts) or
 * `bun:ffi`. Best effort: Linux with glibc only; elsewhere, under Node, or on any
 * failure it does nothing.
 *
 * @module
 */
import { RUNTIME } from "./open_source.ts";

/** `POSIX_FADV_DONTNEED` on Linux. */
const FADV_DONTNEED = 4;
const O_RDONLY = 0;
/** glibc's shared library on Linux. */
const LIBC = "libc.so.6";

/** The three libc calls, however the runtime reaches them. */
interface Fadvise {
  open(path: Uint8Array): number;
  dropAll(fd: number): number;
  close(fd: number): void;
}

/** The libc calls: undefined before the first use, null where there are none. */
let calls: Fadvise | null | undefined;

function isLinux(): boolean {
  const platform = (globalThis as { process?: { platform?: string } }).process?.platform;
  return platform === "linux";
}

function loadDeno(): Fadvise | null {
  if (Deno.build.os !== "linux" || Deno.build.env !== "gnu") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  const { symbols } = Deno.dlopen(
    LIBC,
    {
      open: { parameters: ["buffer", "i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
    } as const,
  );
  return {
    open: (path) => symbols.open(path, O_RDONLY),
    dropAll: (fd) => symbols.posix_fadvise(fd, 0n, 0n, FADV_DONTNEED),
    close: (fd) => void symbols.close(fd),
  };
}

/** `bun:ffi`, reached without an import a bundler would try to resolve. */
interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => number> };
}

function loadBun(): Fadvise | null {
  if (!isLinux()) return null;
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process?.getBuiltinModule;
  const ffi = get?.("bun:ffi") as BunFfi | undefined;
  if (ffi === undefined) return null;
  const { symbols } = ffi.dlopen(LIBC, {
    open: { args: ["ptr", "i32"], returns: "i32" },
    close: { args: ["i32"], returns: "i32" },
    posix_fadvise: { args: ["i32", "i64", "i64", "i32"], returns: "i32" },
  });
  return {
    open: (path) => symbols.open(path, O_RDONLY),
    dropAll: (fd) => symbols.posix_fadvise(fd, 0, 0, FADV_DONTNEED),
    close: (fd) => void symbols.close(fd),
  };
}

function load(): Fadvise | null {
  if (calls === undefined) {
    try {
      calls = RUNTIME === "deno" ? loadDeno() : RUNTIME === "bun" ? loadBun() : null;
    } catch {
      calls = null; // no such library, or FFI refused
    }
  }
  return calls;
}

/**
 * Asks the kernel to drop a file's cached pages; the file itself is untouched (dirty pages
 * are written back, not lost). The file sink does this for an output it is about to
 * replace: those pages are dead once the new file is renamed over it, and dropped first
 * they make room for the new file's pages instead of other files' being evicted.
 *
 * @param path The file.
 * @returns `true` if the kernel took the advice, `false` where it could not be given.
 *
 * @example
 * ```ts
 * import { dropCachedPages } from "./page_cache.ts";
 * import assert from "node:assert/strict";
 * const path = (await Deno.makeTempDir()) + "/old.gguf";
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
 * assert.equal(typeof dropCachedPages(path), "boolean");
 * assert.deepEqual([...await Deno.readFile(path)], [1, 2, 3]); // the bytes are still there
 * ```
 */
export function dropCachedPages(path: string): boolean {
  // A NUL would end the C string early, naming another file.
  if (path.includes("\0")) return false;
  const libc = load();
  if (libc === null) return false;
  try {
    const fd = libc.open(new TextEncoder().encode(path + "\0"));
    if (fd < 0) return false;
    try {
      return libc.dropAll(fd) === 0;
    } finally {
      libc.close(fd);
    }
  } catch {
    return false;
  }
}

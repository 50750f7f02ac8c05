/**
 * The platform under Bun: files, standard streams and workers as under Node (Bun's
 * `node:fs`), mapping through `Bun.mmap` and page-cache advice through `bun:ffi`.
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
import { nodeLikePlatform } from "./node.ts";
import type { Platform } from "./platform.ts";
import { FADV_DONTNEED, libcAdvice, type LibcCalls } from "./_fadvise.ts";

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
  }).symbols;
  return {
    open: (name, flags) => f.open(name, flags),
    close: (fd) => f.close(fd),
    dontNeed: (fd) => f.posix_fadvise(fd, 0, 0, FADV_DONTNEED),
    fcntl: (fd, cmd, arg) => f.fcntl(fd, cmd, arg),
  };
}

/** The platform under Bun. */
export const bunPlatform: Platform = {
  ...nodeLikePlatform("bun", "Bun"),
  mapFile: openBunMmapSource,
  ...libcAdvice(bindLibc),
};

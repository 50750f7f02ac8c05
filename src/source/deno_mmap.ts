/**
 * A byte source over libc `mmap`, reached through `Deno.dlopen` (needs `--allow-ffi`).
 * The mapping is private and copy-on-write (`MAP_PRIVATE | MAP_NORESERVE`): a write into
 * a view changes only this process's copy, never the file. It is unmapped when its
 * `ArrayBuffer` is garbage-collected, so no view can outlive it; `close()` only drops
 * the source's own reference.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { type ByteSource, checkRange } from "../model/byte_source.ts";

const O_RDONLY = 0;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 2;
const MAP_FAILED = 2n ** 64n - 1n;

/** Where libc lives and what its `MAP_NORESERVE` is, per operating system. */
export interface MmapPlatform {
  library: string;
  mapNoReserve: number;
}

/**
 * The C library and flags for `mmap` on an operating system (`Deno.build.os`):
 * glibc Linux (`libc.so.6`, `MAP_NORESERVE` 0x4000) and macOS (`libSystem.B.dylib`,
 * 0x40); `undefined` elsewhere (Windows, or a Linux without glibc), where the caller
 * reads by position instead.
 *
 * @param os An operating system name as `Deno.build.os` gives it.
 * @param glibc Whether this Linux has glibc (`Deno.build.env === "gnu"`).
 * @returns The library and flag, or `undefined`.
 *
 * @example
 * ```ts
 * import { mmapPlatform } from "./deno_mmap.ts";
 * import assert from "node:assert/strict";
 * assert.equal(mmapPlatform("darwin", false)?.mapNoReserve, 0x40);
 * assert.equal(mmapPlatform("windows", false), undefined);
 * ```
 */
export function mmapPlatform(os: string, glibc: boolean): MmapPlatform | undefined {
  if (os === "linux" && glibc) return { library: "libc.so.6", mapNoReserve: 0x4000 };
  if (os === "darwin") return { library: "libSystem.B.dylib", mapNoReserve: 0x40 };
  return undefined;
}

const LIBC_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let libc: Libc | undefined;
let registry: FinalizationRegistry<{ pointer: Deno.PointerValue; size: number }> | undefined;
const platform = mmapPlatform(Deno.build.os, Deno.build.env === "gnu");

/**
 * Opens libc once; throws `Deno.errors.NotCapable` without `--allow-ffi`, and a
 * `GgufError` (`IO`) on a system with no known libc.
 */
function loadLibc(): Libc {
  if (platform === undefined) {
    throw new GgufError("IO", `mmap through FFI is not supported on ${Deno.build.target}`);
  }
  if (libc === undefined) {
    libc = Deno.dlopen(platform.library, LIBC_SYMBOLS).symbols;
    const symbols = libc;
    registry = new FinalizationRegistry(({ pointer, size }) => {
      symbols.munmap(pointer, BigInt(size));
    });
  }
  return libc;
}

/**
 * Maps `path` (of `size` bytes, > 0) through libc. `view()` goes through the mapping;
 * `read()` copies through `reader` (positional reads), so bulk reads such as
 * dequantization do not keep file pages resident in the mapping. Throws whatever
 * `Deno.dlopen` throws when FFI is refused, so the caller can fall back to reads.
 *
 * @param path The file to map.
 * @param reader A positional-read source over the same file; closed by `close()`.
 * @returns A source whose `kind` is `"mmap"`.
 * @throws {GgufError} `IO` when libc cannot open or map the file.
 *
 * @example
 * ```ts ignore
 * import { openDenoMmapSource } from "./deno_mmap.ts";
 * const source = openDenoMmapSource("model.gguf", await openFileReadSource("model.gguf"));
 * ```
 */
export function openDenoMmapSource(path: string, reader: ByteSource): ByteSource {
  const size = reader.size;
  const symbols = loadLibc();
  const fd = symbols.open(new TextEncoder().encode(path + "\0"), O_RDONLY);
  if (fd < 0) throw new GgufError("IO", `Cannot open ${path} for mapping`);
  let pointer: Deno.PointerValue;
  try {
    pointer = symbols.mmap(
      null,
      BigInt(size),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | platform!.mapNoReserve,
      fd,
      0n,
    );
  } finally {
    symbols.close(fd);
  }
  if (pointer === null || Deno.UnsafePointer.value(pointer) === MAP_FAILED) {
    throw new GgufError("IO", `mmap refused its ${formatInteger(size)} bytes`);
  }
  const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, size);
  registry!.register(buffer, { pointer, size });
  let whole: Uint8Array | undefined = new Uint8Array(buffer);
  const mapped = (): Uint8Array => {
    if (whole === undefined) throw new TypeError(`The mapping of ${path} was closed`);
    return whole;
  };
  return {
    kind: "mmap",
    size,
    view(offset, length) {
      checkRange(size, offset, length);
      return mapped().subarray(offset, offset + length);
    },
    read: (offset, length, into) => reader.read(offset, length, into),
    close() {
      whole = undefined;
      return reader.close();
    },
  };
}

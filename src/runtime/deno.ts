/**
 * The platform under Deno. Files go through `node:fs` as under Node, except the output
 * file (written through `Deno.open`, see `createNew`) and directory flushes; standard
 * streams are `Deno.stdin` and `Deno.stdout`.
 *
 * Mapping: libc `mmap`, reached through `Deno.dlopen` (needs `--allow-ffi`, which is
 * queried first: this module never prompts). The mapping is private and copy-on-write
 * (`MAP_PRIVATE | MAP_NORESERVE`): a write into a view changes only this process's copy,
 * never the file.
 *
 * Lifetime: garbage collection cannot tell when the last view of a mapping dies — a view's
 * `ArrayBuffer` can be transferred (`buffer.transfer()`, a `postMessage` or
 * `structuredClone` transfer list), which moves the memory to a new buffer that nothing
 * here can see. So the mapping is never unmapped while a view may reach it:
 * - `close()` releases the file and replaces the mapping with zero pages: views made
 *   before read zeros from then on (they never read freed memory or crash), and the
 *   address range stays reserved;
 * - `close({ keepViews: true })` (a model dropped without `close()`) releases the file
 *   handle only: the mapping stays, and its views stay valid, until the process exits.
 *
 * Page-cache advice: `posix_fadvise(POSIX_FADV_DONTNEED)` through the same libc, a larger
 * pipe buffer for standard streams (`fcntl(F_SETPIPE_SZ)`) and range write-backs of the
 * output (`sync_file_range`), only on glibc Linux and only when FFI is already granted (an
 * optimization never prompts).
 *
 * Nothing here touches `Deno` until called, so this module loads in every runtime.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { type ByteSource, checkRange } from "../model/byte_source.ts";
import { eagainBackoff, nodeLikePlatform } from "./node.ts";
import type { FileInfo, FileKind, OutputFile, Platform } from "./platform.ts";
import { FADV_DONTNEED, libcAdvice, type LibcCalls } from "./_fadvise.ts";
import { O_WRONLY_CLOEXEC, SYNC_FILE_RANGE_WAIT_ALL, withWriteBack } from "./_write_back.ts";

const O_RDONLY = 0;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 2;
const MAP_FIXED = 0x10;
/** `MAP_ANONYMOUS` on Linux (0x20) and macOS (0x1000). */
const MAP_ANONYMOUS: Record<string, number> = { linux: 0x20, darwin: 0x1000 };
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
 * import { mmapPlatform } from "./deno.ts";
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
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let libc: Libc | undefined;

/** This system's libc and `MAP_NORESERVE`, looked up on first use. */
function libcPlatform(): MmapPlatform | undefined {
  return mmapPlatform(Deno.build.os, Deno.build.env === "gnu");
}

/**
 * Opens libc once; throws `Deno.errors.NotCapable` unless FFI is already granted (asking
 * would prompt on a terminal), and a `GgufError` (`IO`) on a system with no known libc.
 */
function loadLibc(): Libc {
  const platform = libcPlatform();
  if (platform === undefined) {
    throw new GgufError("IO", `mmap through FFI is not supported on ${Deno.build.target}`);
  }
  if (libc === undefined) {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      throw new Deno.errors.NotCapable("FFI is not granted (run Deno with --allow-ffi)");
    }
    libc = Deno.dlopen(platform.library, LIBC_SYMBOLS).symbols;
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
 */
function openDenoMmapSource(path: string, reader: ByteSource): ByteSource {
  const size = reader.size;
  const symbols = loadLibc();
  const platform = libcPlatform()!;
  const fd = symbols.open(new TextEncoder().encode(path + "\0"), O_RDONLY);
  if (fd < 0) throw new GgufError("IO", `Cannot open ${path} for mapping`);
  let pointer: Deno.PointerValue;
  try {
    pointer = symbols.mmap(
      null,
      BigInt(size),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | platform.mapNoReserve,
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
  let whole: Uint8Array | undefined = new Uint8Array(buffer);
  const mapped = (): Uint8Array => {
    if (whole === undefined) throw new TypeError(`The mapping of ${path} was closed`);
    return whole;
  };
  const release = (keepViews: boolean) => {
    if (whole === undefined) return;
    whole = undefined;
    if (keepViews) return;
    // Zero pages over the same range: the file is released, views read zeros.
    const zeros = symbols.mmap(
      pointer,
      BigInt(size),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS[Deno.build.os] | platform.mapNoReserve,
      -1,
      0n,
    );
    if (zeros === null || Deno.UnsafePointer.value(zeros) === MAP_FAILED) {
      // The old mapping is still in place, so views stay valid: it is kept until exit.
      return;
    }
  };
  return {
    kind: "mmap",
    size,
    view(offset, length) {
      checkRange(size, offset, length);
      return mapped().subarray(offset, offset + length);
    },
    read: (offset, length, into) => reader.read(offset, length, into),
    viewsEndAtClose: true,
    close(options) {
      release(options?.keepViews === true);
      return reader.close();
    },
  };
}

const FADVISE_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
} as const;

/** Whether libc may be called: glibc Linux with FFI already granted (never prompts). */
function libcGranted(): boolean {
  return Deno.build.os === "linux" && Deno.build.env === "gnu" &&
    Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/** libc through `Deno.dlopen` on glibc Linux when FFI is granted; `null` elsewhere. */
function bindLibc(): LibcCalls | null {
  if (!libcGranted()) return null;
  const f = Deno.dlopen("libc.so.6", FADVISE_SYMBOLS).symbols;
  return {
    open: (name, flags) => f.open(name, flags),
    close: (fd) => f.close(fd),
    dontNeed: (fd) => f.posix_fadvise(fd, 0n, 0n, FADV_DONTNEED),
    fcntl: (fd, cmd, arg) => f.fcntl(fd, cmd, arg),
    address: (bytes) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes))),
    madvise: (at, length, advice) => f.madvise(Deno.UnsafePointer.create(at), length, advice),
  };
}

/**
 * Binds `symbols` of libc at the first call of the returned function, once: their
 * functions where libc may be called ({@linkcode libcGranted}), `null` elsewhere or when
 * the library will not open.
 */
function lazyLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] | null {
  let bound: Deno.DynamicLibrary<S>["symbols"] | null | undefined;
  return () => {
    if (bound === undefined) {
      try {
        bound = libcGranted() ? Deno.dlopen("libc.so.6", symbols).symbols : null;
      } catch {
        bound = null;
      }
    }
    return bound;
  };
}

const WRITE_SYMBOLS = {
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

const writeCalls = lazyLibc(WRITE_SYMBOLS);

/** `EINTR` and `EAGAIN` on Linux: the call is tried again. */
const EINTR = 4;
const EAGAIN = 11;

/**
 * Writes all of `bytes` to standard output, blocking. Through libc's `write(2)` where FFI
 * is granted: `Deno.stdout` is line-buffered, so each write would be cut at its last
 * newline byte into two calls (three, with the rest held back for the next), each a
 * wake-up of the reader of a pipe. Elsewhere through `Deno.stdout` all the same.
 */
function writeStdoutSync(bytes: Uint8Array): void {
  const f = writeCalls();
  const wait = eagainBackoff();
  for (let done = 0; done < bytes.length;) {
    const rest = bytes.subarray(done);
    if (f === null) {
      done += Deno.stdout.writeSync(rest);
      continue;
    }
    const written = Number(f.write(1, rest, BigInt(rest.length)));
    if (written >= 0) {
      done += written;
      continue;
    }
    const errno = new Deno.UnsafePointerView(f.__errno_location()!).getInt32();
    if (errno === EINTR) continue;
    if (errno === EAGAIN) {
      wait();
      continue;
    }
    const text = Deno.UnsafePointerView.getCString(f.strerror(errno)!);
    throw new Error(`${text} (os error ${errno})`);
  }
}

const WRITE_BACK_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // On the runtime's thread pool: the call waits for the disk.
  sync_file_range: {
    parameters: ["i32", "i64", "i64", "u32"],
    result: "i32",
    nonblocking: true,
  },
} as const;

const writeBackCalls = lazyLibc(WRITE_BACK_SYMBOLS);

/**
 * Gives the file range write-backs through a descriptor of its own (Deno's files do not
 * tell theirs) where libc may be called; the file as it is elsewhere, or when the
 * descriptor cannot be opened.
 */
function addWriteBack(path: string, file: OutputFile): OutputFile {
  const f = writeBackCalls(); // null: flushes only
  if (f === null || path.includes("\0")) return file;
  const fd = f.open(new TextEncoder().encode(path + "\0"), O_WRONLY_CLOEXEC);
  if (fd < 0) return file;
  return withWriteBack(
    file,
    (offset, length) =>
      f.sync_file_range(fd, BigInt(offset), BigInt(length), SYNC_FILE_RANGE_WAIT_ALL),
    () => void f.close(fd),
  );
}

/**
 * Creates the output file through `Deno.open`, whose files write on the runtime's thread
 * pool so that conversion goes on meanwhile (Deno's `node:fs` handles write on this
 * thread). Flushes go through a second handle of the same file (a flush covers the file,
 * whichever descriptor asks), so no write waits for one to end; write-backs through a
 * third, libc's, where FFI is granted.
 */
async function createNew(path: string): Promise<OutputFile> {
  const file = await Deno.open(path, { write: true, createNew: true });
  let flusher: Deno.FsFile | undefined;
  try {
    flusher = await Deno.open(path, { write: true });
  } catch (cause) {
    file.close();
    await Deno.remove(path).catch(() => {}); // ours: created just above
    throw cause;
  }
  return addWriteBack(path, {
    write: (bytes) => file.write(bytes),
    datasync: () => flusher.syncData(),
    close() {
      file.close();
      flusher.close();
      return Promise.resolve();
    },
  });
}

async function syncDirectory(path: string): Promise<void> {
  const directory = await Deno.open(path, { read: true });
  try {
    await directory.sync();
  } finally {
    directory.close();
  }
}

/** Deno's name for the system as Node's `process.platform` gives it. */
function nodeOsName(os: string): string {
  if (os === "windows") return "win32";
  if (os === "solaris" || os === "illumos") return "sunos";
  return os;
}

/** The kind of a file as `Deno.stat` tells it. */
function denoKind(info: Deno.FileInfo): FileKind {
  if (info.isFile) return "file";
  if (info.isDirectory) return "directory";
  if (info.isSymlink) return "symlink";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "character-device";
  if (info.isBlockDevice) return "block-device";
  return "other";
}

/**
 * Standard input's or output's metadata through `/dev/fd` on Linux, where reading it
 * is already allowed (asking would prompt on a terminal); `undefined` elsewhere (then
 * `node:fs` tells).
 */
function statStandardStream(fd: 0 | 1): FileInfo | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const path = `/dev/fd/${fd}`;
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    const info = Deno.statSync(path);
    return { kind: denoKind(info), size: info.size, dev: info.dev, ino: info.ino ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * The platform under Deno: FFI mapping and advice where `--allow-ffi` is granted. Node's
 * `process` is left alone (see `nodeLikePlatform`): a worker thread that converts starts
 * without Deno's Node compatibility layer.
 *
 * @returns A new platform object (`current.ts` makes the one in use).
 */
export function denoPlatform(): Platform {
  const shared = nodeLikePlatform("deno", "Deno", {
    os: nodeOsName(Deno.build.os),
    pid: Deno.pid,
  });
  return {
    ...shared,
    files: { ...shared.files!, createNew, syncDirectory },
    stdio: {
      ...shared.stdio!,
      stat: (fd) => statStandardStream(fd) ?? shared.stdio!.stat(fd),
      stdin: () => Deno.stdin.readable,
      async writeStdout(bytes) {
        for (let done = 0; done < bytes.length;) {
          done += await Deno.stdout.write(bytes.subarray(done));
        }
      },
      readStdinSync: (into) => Deno.stdin.readSync(into) ?? 0,
      writeStdoutSync,
    },
    mapFile: openDenoMmapSource,
    fetchKeepsEncoding: true,
    ...libcAdvice(bindLibc),
    canStartWorkers: (module) => shared.canStartWorkers() && mayLoad(module),
  };
}

/**
 * Whether a worker may load `module`: a file module needs read access, which is asked of
 * the permissions' state, never prompted for.
 */
function mayLoad(module: URL | undefined): boolean {
  if (module === undefined || module.protocol !== "file:") return true;
  return Deno.permissions.querySync({ name: "read", path: module }).state === "granted";
}

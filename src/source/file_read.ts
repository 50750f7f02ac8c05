/**
 * A byte source that reads a file by position (`pread`), for runtimes or permissions
 * that cannot map it, built on the platform's files.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { type ByteSource, checkRange } from "../model/byte_source.ts";
import { PLATFORM } from "../runtime/current.ts";
import type { FileInfo, FileSystem, ReadHandle } from "../runtime/platform.ts";

/**
 * The platform's files, or a `TypeError` where the runtime has none (browsers, workerd).
 *
 * @returns The file system.
 * @throws {TypeError} Where the runtime has no files.
 *
 * @example
 * ```ts
 * import { platformFiles } from "./file_read.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof platformFiles().openRead, "function");
 * ```
 */
export function platformFiles(): FileSystem {
  const files = PLATFORM.files;
  if (files === undefined) {
    throw new TypeError(
      `This runtime (${PLATFORM.displayName}) has no file system: files cannot be read or written here`,
    );
  }
  return files;
}

/** What a file that is not a regular file is, and what to do instead. */
function notRegular(stat: FileInfo): string {
  const stream = "which can be read only once, forward: give it as standard input instead " +
    '(on the command line, MODEL "-": `cmd | convert.ts - -o OUT.gguf`, or ' +
    "`convert.ts - -o OUT.gguf < <(cmd)` for a process substitution)";
  if (stat.kind === "fifo") return `it is a pipe (FIFO), ${stream}`;
  if (stat.kind === "socket") return `it is a socket, ${stream}`;
  if (stat.kind === "character-device") return `it is a character device, ${stream}`;
  if (stat.kind === "directory") return "it is a directory; name a .gguf file in it";
  return "it is not a regular file; only regular files are read by position";
}

/**
 * Opens `path` for positional reads. Anything but a regular file (a pipe, a process
 * substitution like `<(curl …)`, a directory, a device) is refused before it is opened —
 * opening a pipe with no writer would wait forever — with advice to stream it instead.
 *
 * @param path The file to read.
 * @returns A source whose `kind` is `"read"`; `view()` always returns `undefined`.
 * @throws {GgufError} `IO` when the file cannot be opened or is not a regular file.
 *
 * @example
 * ```ts ignore
 * import { openFileReadSource } from "./file_read.ts";
 * const source = await openFileReadSource("model.gguf");
 * const magic = await source.read(0, 4);
 * await source.close();
 * ```
 */
export async function openFileReadSource(path: string): Promise<ByteSource> {
  const fs = platformFiles();
  // Checked before opening: opening a pipe for reading blocks until a writer appears.
  let before: FileInfo;
  try {
    before = await fs.stat(path);
  } catch (cause) {
    throw ioError(`Cannot open ${path}`, cause);
  }
  if (before.kind !== "file") {
    throw new GgufError("IO", `Cannot read ${path}: ${notRegular(before)}`);
  }
  let handle: ReadHandle;
  try {
    handle = await fs.openRead(path);
  } catch (cause) {
    throw ioError(`Cannot open ${path}`, cause);
  }
  let size: number;
  try {
    const stat = await handle.stat();
    if (stat.kind !== "file") throw new GgufError("IO", `Cannot read ${path}: ${notRegular(stat)}`);
    size = stat.size;
  } catch (cause) {
    await handle.close();
    throw cause instanceof GgufError ? cause : ioError(`Cannot read ${path}`, cause);
  }
  let closed = false;
  return {
    kind: "read",
    size,
    async read(offset, length, into) {
      checkRange(size, offset, length);
      const target = into === undefined ? new Uint8Array(length) : into.subarray(0, length);
      let done = 0;
      while (done < length) {
        const bytesRead = await handle.read(target, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new GgufError(
            "TRUNCATED",
            `Cannot read ${path}: the file ended at byte ${
              formatInteger(offset + done)
            } while reading (was it truncated?)`,
            offset + done,
          );
        }
        done += bytesRead;
      }
      return target;
    },
    view: () => undefined,
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** Wraps an operating-system error as a `GgufError` with code `IO`. */
export function ioError(what: string, cause: unknown): GgufError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new GgufError("IO", `${what}: ${reason}`, undefined, { cause });
}

/**
 * A byte source that reads a file by position (`pread`), for runtimes or permissions
 * that cannot map it. Works in Deno, Bun and Node through `node:fs/promises`.
 *
 * @module
 */
import { nodeBuiltin } from "./_node_builtin.ts";
import { GgufError } from "../model/errors.ts";
import { type ByteSource, checkRange } from "../model/byte_source.ts";

/**
 * Opens `path` for positional reads.
 *
 * @param path The file to read.
 * @returns A source whose `kind` is `"read"`; `view()` always returns `undefined`.
 * @throws {GgufError} `IO` when the file cannot be opened.
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
  const fs = nodeBuiltin("node:fs/promises");
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(path, "r");
  } catch (cause) {
    throw ioError(`Cannot open ${path}`, cause);
  }
  let size: number;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error("not a regular file");
    size = stat.size;
  } catch (cause) {
    await handle.close();
    throw ioError(`Cannot read ${path}`, cause);
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
        const { bytesRead } = await handle.read(target, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new GgufError(
            "TRUNCATED",
            `Cannot read ${path}: the file ended at byte ${
              offset + done
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

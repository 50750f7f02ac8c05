/**
 * Safe file output: bytes go to a temporary file beside the target, which is renamed into
 * place only when complete; on any failure the temporary is removed and the target is
 * untouched.
 *
 * @module
 */
import { nodeBuiltin } from "./_node_builtin.ts";
import { GgufError } from "../model/errors.ts";
import { ioError } from "./file_read.ts";
import { toPath } from "./open_source.ts";

/**
 * An output file being written: `write()` appends, `commit()` flushes, closes and renames
 * the temporary onto the target, `abort()` closes and removes the temporary (safe to call
 * twice) and leaves the target as it was.
 */
export interface FileSink {
  /** The temporary file's path. */
  readonly temporaryPath: string;
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Options for {@linkcode openFileSink}. */
export interface FileSinkOptions {
  /** Replace an existing target (default: refuse with `OUTPUT_EXISTS`). */
  force?: boolean;
  /** Paths the output must not be (the input files): refused with `SAME_FILE`. */
  inputs?: (string | URL)[];
}

async function identity(path: string): Promise<string | undefined> {
  const fs = nodeBuiltin("node:fs/promises");
  try {
    const stat = await fs.stat(path);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Opens a temporary file beside `target` for writing.
 *
 * @param target The output path.
 * @param options `force` to replace an existing file; `inputs` to refuse writing over them.
 * @returns A sink; call `commit()` on success or `abort()` on failure.
 * @throws {GgufError} `SAME_FILE` when the target is an input; `OUTPUT_EXISTS` when it
 *   exists without `force`; `IO` when the directory cannot be written.
 *
 * @example
 * ```ts
 * import { openFileSink } from "../../advanced.ts";
 * import assert from "node:assert/strict";
 * const path = (await Deno.makeTempDir()) + "/out.bin";
 * const sink = await openFileSink(path);
 * await sink.write(new Uint8Array([1, 2, 3]));
 * await sink.commit();
 * assert.deepEqual([...await Deno.readFile(path)], [1, 2, 3]);
 * ```
 */
export async function openFileSink(
  target: string | URL,
  options: FileSinkOptions = {},
): Promise<FileSink> {
  const fs = nodeBuiltin("node:fs/promises");
  const path = toPath(target);
  const targetId = await identity(path);
  if (targetId !== undefined) {
    for (const input of options.inputs ?? []) {
      if ((await identity(toPath(input))) === targetId) {
        throw new GgufError(
          "SAME_FILE",
          `Cannot write ${path}: it is the input; choose another output`,
        );
      }
    }
    if (!options.force) {
      throw new GgufError(
        "OUTPUT_EXISTS",
        `Cannot write ${path}: it exists (pass --force to replace it)`,
      );
    }
  }
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = path.slice(slash + 1);
  const temporaryPath = `${dir}.${base}.tmp-${process.pid}-${
    Math.random().toString(36).slice(2, 10)
  }`;
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(temporaryPath, "wx");
  } catch (cause) {
    throw ioError(`Cannot write ${path}`, cause);
  }
  let open = true;
  const finish = async () => {
    if (!open) return;
    open = false;
    await handle.close();
  };
  return {
    temporaryPath,
    async write(bytes) {
      try {
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
          done += bytesWritten;
        }
      } catch (cause) {
        throw ioError(`Cannot write ${path}`, cause);
      }
    },
    async commit() {
      try {
        await handle.datasync();
        await finish();
        await fs.rename(temporaryPath, path);
      } catch (cause) {
        throw ioError(`Cannot write ${path}`, cause);
      }
    },
    async abort() {
      try {
        await finish();
      } catch {
        // Already failing: the removal below is what matters.
      }
      await fs.rm(temporaryPath, { force: true });
    },
  };
}

/**
 * Safe file output: the output path is checked before any work, bytes go to a temporary
 * file beside the target, which is flushed and renamed into place only when complete; on
 * any failure the temporary is removed and the target is untouched. Temporaries left by a
 * process that died (SIGKILL, a power cut) are removed by the next run for the same target.
 * A temporary is named `.NAME.tmp-PID-RANDOM`, or for a name too long for that to fit in
 * 255 bytes, after the name's first bytes and a digest of it (see `temporary_name.ts`).
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { PLATFORM } from "../runtime/current.ts";
import type { FileInfo, OutputFile } from "../runtime/platform.ts";
import { ioError, platformFiles } from "./file_read.ts";
import { toPath } from "./open_source.ts";
import { randomPart, temporaryPid, temporaryPrefixes } from "./temporary_name.ts";
import { WRITE_PIECE_BYTES } from "./write_piece.ts";

/**
 * An output file being written: `write()` appends, `commit()` flushes, closes and renames
 * the temporary onto the target, then flushes the directory, `abort()` closes and removes
 * the temporary (safe to call twice; rejects only when the temporary cannot be removed)
 * and leaves the target as it was.
 */
export interface FileSink {
  /** The temporary file's path. */
  readonly temporaryPath: string;
  /** Appends bytes; the chunk may be reused once this resolves. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Flushes to the disk, closes, renames the temporary onto the target and flushes the
   * directory, so the new name survives a power cut.
   */
  commit(): Promise<void>;
  /** Closes and removes the temporary; the target is left as it was. */
  abort(): Promise<void>;
  /**
   * Seconds spent so far: `writes` (in write calls), `backgroundFlushes` (a count, of which
   * `writeBacks` by range) and `backgroundFlushing` (their time, beside the conversion),
   * `waitingOnFlush` (the commit waiting for one still running), `finalFlush`, `close`,
   * `rename`, `directoryFlush`.
   */
  phases(): Record<string, number>;
}

/** Options for {@linkcode openFileSink} and {@linkcode checkOutputPath}. */
export interface FileSinkOptions {
  /** Replace an existing target (default: refuse with `OUTPUT_EXISTS`). */
  force?: boolean;
  /** Paths the output must not be (the input files): refused with `SAME_FILE`. */
  inputs?: (string | URL)[];
  /**
   * Told when the directory cannot be flushed after the rename (the output is then in place
   * and whole, its name not yet durable); without it, `commit()` rejects instead.
   */
  onWarning?: (message: string) => void;
}

/** What a checked output path will be written as. */
export interface OutputTarget {
  /**
   * The file to write: the path itself, or for a symbolic link to a regular file, the
   * file it points to (the link is kept).
   */
  path: string;
  /** Whether a file is there now (replaced only with `force`). */
  exists: boolean;
}

/** Errors of systems that cannot open or flush a directory (Windows): nothing to sync there. */
const UNSYNCABLE = new Set(["EISDIR", "EINVAL", "EPERM", "EACCES", "EBADF", "ENOTSUP"]);

/**
 * Flushes a directory's entries to the disk, so that a file just renamed into it keeps
 * its new name through a power cut (ext4 and xfs write a rename back on their own time).
 * Where the system refuses to open or flush a directory (Windows), there is nothing to do;
 * on Linux every failure is an error.
 *
 * @param dir The directory.
 * @returns Once the directory is flushed.
 * @throws {GgufError} `IO` when the directory cannot be opened or flushed.
 *
 * @example
 * ```ts
 * import { syncDirectory } from "./file_sink.ts";
 * import assert from "node:assert/strict";
 * import { tmpdir } from "node:os";
 * const dir = tmpdir();
 * await syncDirectory(dir);
 * await assert.rejects(syncDirectory(dir + "/missing"), { code: "IO" });
 * ```
 */
export async function syncDirectory(dir: string): Promise<void> {
  const files = platformFiles();
  try {
    await files.syncDirectory(dir);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (PLATFORM.os !== "linux" && UNSYNCABLE.has(code ?? "")) return;
    throw ioError(`Cannot flush the directory ${dir}`, cause);
  }
}

/**
 * The directory flush a commit calls after its rename, held in an object so a test can
 * watch it; not part of the API.
 */
export const directorySync: { run: (dir: string) => Promise<void> } = { run: syncDirectory };

/** Bytes written between background flushes (the output is durable only at commit). */
const BACKGROUND_FLUSH_BYTES = 64 << 20;

/** What `link()` fails with where a file system has no hard links. */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"]);

/**
 * Gives a finished temporary the output's name only if nothing has taken that name since
 * the output was checked (another program, or a second conversion to the same path):
 * a hard link fails on a taken name where a rename would replace it. Where the file system
 * has no hard links, the name is checked once more just before the rename.
 */
async function renameNoReplace(temporaryPath: string, path: string): Promise<void> {
  const fs = platformFiles();
  const taken = () =>
    new GgufError(
      "OUTPUT_EXISTS",
      `Cannot write ${path}: it was created while converting, and is left as it is (option force: true replaces it)`,
    );
  try {
    await fs.link(temporaryPath, path);
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? "";
    if (code === "EEXIST") throw taken();
    if (!NO_HARD_LINKS.has(code)) throw cause;
    if (statOrUndefined(path, false) !== undefined) throw taken();
    await fs.rename(temporaryPath, path);
    return;
  }
  // The output has its name; a temporary name left by a failed removal is only a second
  // name of the same file, which the next run to this output removes as stale.
  await fs.remove(temporaryPath).catch(() => {});
}

function kindOf(stat: FileInfo): string {
  if (stat.kind === "directory") return "a directory";
  if (stat.kind === "fifo") return "a FIFO";
  if (stat.kind === "character-device" || stat.kind === "block-device") return "a device";
  if (stat.kind === "socket") return "a socket";
  return "not a regular file";
}

function statOrUndefined(path: string, follow: boolean): FileInfo | undefined {
  const fs = platformFiles();
  try {
    return fs.statSync(path, follow);
  } catch (cause) {
    // (ENOTDIR: a part of the path is a file; the directory check below says which.)
    const code = (cause as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw ioError(`Cannot write ${path}`, cause);
  }
}

/**
 * Checks an output path before any work is done: it must be (or become) a regular file
 * in an existing directory, not an input, and may exist only with `force`. A symbolic
 * link to a regular file means that file (the link stays); a dangling link, a directory,
 * a device, a FIFO or a socket is refused — write those as a stream (`-o -`) instead.
 *
 * @param target The output path.
 * @param options `force` and the input paths.
 * @returns The file to write and whether it exists.
 * @throws {GgufError} `BAD_OUTPUT`, `SAME_FILE` or `OUTPUT_EXISTS`.
 *
 * @example
 * ```ts
 * import { checkOutputPath } from "./file_sink.ts";
 * import assert from "node:assert/strict";
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * const dir = mkdtempSync(`${tmpdir()}/gguf-`);
 * assert.deepEqual(checkOutputPath(dir + "/out.gguf"), { path: dir + "/out.gguf", exists: false });
 * assert.throws(() => checkOutputPath(dir), { code: "BAD_OUTPUT" });
 * assert.throws(() => checkOutputPath(dir + "/missing/out.gguf"), { code: "BAD_OUTPUT" });
 * ```
 */
export function checkOutputPath(
  target: string | URL,
  options: FileSinkOptions = {},
): OutputTarget {
  const fs = platformFiles();
  const given = toPath(target);
  if (given === "") throw new GgufError("BAD_OUTPUT", "Cannot write to an empty output path");
  let path = given;
  const link = statOrUndefined(given, false);
  if (link?.kind === "symlink") {
    const resolved = statOrUndefined(given, true);
    if (resolved === undefined) {
      throw new GgufError(
        "BAD_OUTPUT",
        `Cannot write ${given}: it is a symbolic link to a missing file (remove it, or name the file it should be)`,
      );
    }
    if (resolved.kind === "file") {
      try {
        path = fs.realPath(given);
      } catch (cause) {
        throw ioError(`Cannot write ${given}`, cause);
      }
    }
    // A link to anything else is refused below by what it leads to, not resolved: the
    // target of /dev/stdout on a pipe (/proc/self/fd/1) reads "pipe:[N]", no path at all.
  }
  const stat = statOrUndefined(path, true);
  if (stat !== undefined && stat.kind !== "file") {
    throw new GgufError(
      "BAD_OUTPUT",
      `Cannot write ${given}: it is ${kindOf(stat)}; name a file${
        stat.kind === "directory"
          ? " inside it"
          : ", or write to standard output with -o - and redirect it"
      }`,
    );
  }
  const dir = fs.dirname(path);
  const dirStat = statOrUndefined(dir, true);
  if (dirStat === undefined || dirStat.kind !== "directory") {
    throw new GgufError(
      "BAD_OUTPUT",
      dirStat === undefined
        ? `Cannot write ${given}: the directory ${dir} does not exist`
        : `Cannot write ${given}: ${dir} is ${
          dirStat.kind === "file" ? "a file" : kindOf(dirStat)
        }, not a directory`,
    );
  }
  if (stat !== undefined) {
    for (const input of options.inputs ?? []) {
      const other = statOrUndefined(toPath(input), true);
      if (other !== undefined && other.dev === stat.dev && other.ino === stat.ino) {
        throw new GgufError(
          "SAME_FILE",
          `Cannot write ${given}: it is the input; choose another output`,
        );
      }
    }
    if (!options.force) {
      throw new GgufError(
        "OUTPUT_EXISTS",
        `Cannot write ${given}: it exists (option force: true replaces it)`,
      );
    }
  }
  return { path, exists: stat !== undefined };
}

/**
 * Removes temporaries of `path` left by processes that no longer run: those whose names
 * begin with one of `prefixes` and end in `PID-RANDOM` (see {@linkcode temporaryPrefixes}).
 *
 * @param path The output file.
 * @param prefixes How its temporaries' names begin.
 * @returns The removed temporaries' paths.
 */
function removeStaleTemporaries(path: string, prefixes: string[]): string[] {
  const fs = platformFiles();
  const dir = fs.dirname(path);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.listDirectory(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const prefix = prefixes.find((prefix) => name.startsWith(prefix));
    if (prefix === undefined) continue;
    const pid = temporaryPid(name.slice(prefix.length));
    if (pid === undefined || PLATFORM.processAlive(pid)) continue;
    const stale = fs.join(dir, name);
    try {
      fs.removeSync(stale);
      removed.push(stale);
    } catch {
      // Not ours to remove after all (permissions): leave it.
    }
  }
  return removed;
}

/**
 * Opens a temporary file beside `target` for writing, after {@linkcode checkOutputPath}.
 * Temporaries of the same target left by dead processes are removed first.
 *
 * @param target The output path.
 * @param options `force` to replace an existing file; `inputs` to refuse writing over them.
 * @returns A sink; call `commit()` on success or `abort()` on failure.
 * @throws {GgufError} `BAD_OUTPUT`, `SAME_FILE`, `OUTPUT_EXISTS`; `IO` when the directory
 *   cannot be written.
 *
 * @example
 * ```ts
 * import { openFileSink } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * import { mkdtempSync, readFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * const path = `${mkdtempSync(`${tmpdir()}/gguf-`)}/out.bin`;
 * const sink = await openFileSink(path);
 * await sink.write(new Uint8Array([1, 2, 3]));
 * await sink.commit();
 * assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
 * ```
 */
export async function openFileSink(
  target: string | URL,
  options: FileSinkOptions = {},
): Promise<FileSink> {
  const fs = platformFiles();
  const { path, exists } = checkOutputPath(target, options);
  const { prefix, leftovers } = await temporaryPrefixes(fs.basename(path));
  removeStaleTemporaries(path, leftovers);
  // The file being replaced keeps its bytes until the rename; its cached pages can go now.
  if (exists) PLATFORM.dropCachedPages?.(path);
  const temporaryPath = fs.join(fs.dirname(path), `${prefix}${PLATFORM.pid}-${randomPart()}`);
  let handle: OutputFile;
  try {
    handle = await fs.createNew(temporaryPath);
  } catch (cause) {
    throw ioError(`Cannot write ${path}`, cause);
  }
  let open = true;
  let written = 0;
  /** Where the last background flush ended: the next writes back from here. */
  let flushedTo = 0;
  /** Whether range write-backs work here (a failed one hands over to `datasync()`). */
  let canWriteBack = handle.writeBack !== undefined;
  /** A flush of what was written so far, running while later chunks are converted. */
  let flushing: Promise<void> | undefined;
  let flushError: unknown;
  const phases = {
    writes: 0,
    backgroundFlushes: 0,
    writeBacks: 0,
    backgroundFlushing: 0,
    waitingOnFlush: 0,
    finalFlush: 0,
    close: 0,
    rename: 0,
    directoryFlush: 0,
  };
  /** Runs `step`, adding its seconds to `phases[name]`. */
  const timed = async <T>(name: keyof typeof phases, step: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await step();
    } finally {
      phases[name] += (performance.now() - start) / 1000;
    }
  };
  /**
   * Writes what came since the last background flush back to the disk: by range where the
   * system can (no journal commit, no disk-cache flush), else by `datasync()`.
   */
  const backgroundFlush = async (from: number, to: number) => {
    if (canWriteBack) {
      try {
        await handle.writeBack!(from, to - from);
        phases.writeBacks++;
        return;
      } catch {
        canWriteBack = false; // A real disk error shows again in the datasync below.
      }
    }
    await handle.datasync();
  };
  const finish = async () => {
    if (!open) return;
    open = false;
    await flushing;
    await handle.close();
  };
  return {
    temporaryPath,
    async write(bytes) {
      const start = performance.now();
      try {
        let done = 0;
        while (done < bytes.length) {
          done += await handle.write(bytes.subarray(done, done + WRITE_PIECE_BYTES));
        }
        phases.writes += (performance.now() - start) / 1000;
        written += bytes.length;
        if (flushError !== undefined) throw flushError;
        if (written - flushedTo >= BACKGROUND_FLUSH_BYTES && flushing === undefined) {
          // Start writing back what the page cache holds, so the final flush before the
          // rename has little left to do; conversion goes on meanwhile.
          phases.backgroundFlushes++;
          const [from, to] = [flushedTo, written];
          flushedTo = to;
          flushing = timed("backgroundFlushing", () => backgroundFlush(from, to))
            .catch((error) => void (flushError = error))
            .finally(() => void (flushing = undefined));
        }
      } catch (cause) {
        throw ioError(
          `Cannot write ${path} (after ${formatInteger(written)} bytes)`,
          cause,
        );
      }
    },
    async commit() {
      try {
        await timed("waitingOnFlush", async () => await flushing);
        if (flushError !== undefined) throw flushError;
        await timed("finalFlush", () => handle.datasync());
        await timed("close", finish);
        await timed(
          "rename",
          () =>
            options.force === true
              ? fs.rename(temporaryPath, path)
              : renameNoReplace(temporaryPath, path),
        );
      } catch (cause) {
        if (cause instanceof GgufError) throw cause;
        throw ioError(`Cannot write ${path}`, cause);
      }
      // The new name is durable only once the directory holding it is flushed. The output
      // is in place by now: a failure here is said, not thrown, where the caller listens.
      try {
        await timed("directoryFlush", () => directorySync.run(fs.dirname(path)));
      } catch (error) {
        if (options.onWarning === undefined) throw error;
        options.onWarning(
          `${path} is written, but the new name may not survive a power cut: ${
            (error as Error).message
          }`,
        );
      }
    },
    phases: () => ({ ...phases }),
    async abort() {
      try {
        await finish();
      } catch {
        // Already failing: the removal below is what matters.
      }
      try {
        await fs.remove(temporaryPath);
      } catch (cause) {
        throw ioError(`Cannot remove the temporary file ${temporaryPath}`, cause);
      }
    },
  };
}

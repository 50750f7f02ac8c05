/**
 * Opens a file as a {@linkcode ByteSource}: mapped where the platform can map files,
 * read by position otherwise.
 *
 * @module
 */
import { GgufError } from "../model/errors.ts";
import type { ByteSource } from "../model/byte_source.ts";
import type { OptionKeys } from "../model/option_keys.ts";
import { PLATFORM } from "../runtime/current.ts";
import { bytesSource } from "./bytes.ts";
import { openFileReadSource } from "./file_read.ts";

/** How to reach a file's bytes: `auto` maps where possible, else reads. */
export type AccessMode = "auto" | "mmap" | "read";

/** Options for {@linkcode openByteSource}. */
export interface OpenOptions {
  /** `auto` (default): mmap where the runtime allows, else positional reads. */
  access?: AccessMode;
  /** Receives a one-time notice when `auto` falls back from mmap to reads. */
  onNotice?: (message: string) => void;
}

/** Every key of {@linkcode OpenOptions}, for option checks. */
export const OPEN_OPTION_KEYS: OptionKeys<OpenOptions> = { access: true, onNotice: true };

let noticeGiven = false;

function notice(options: OpenOptions, message: string): void {
  if (noticeGiven || options.onNotice === undefined) return;
  noticeGiven = true;
  options.onNotice(message);
}

function isPermissionError(error: unknown): boolean {
  const name = error instanceof Error ? error.name : "";
  return name === "NotCapable" || name === "PermissionDenied";
}

/** Whether this process runs on Windows (where `file:` URLs name drive letters and shares). */
const ON_WINDOWS = PLATFORM.os === "win32";

/**
 * Turns a `file:` URL or a path into a path, as the operating system names it: on Windows
 * `file:///C:/models/a%20b.gguf` is `C:\models\a b.gguf` and `file://server/share/x` is
 * `\\server\share\x`; elsewhere the URL's decoded path (a host other than `localhost` is
 * refused). An encoded separator (`%2F`, and `%5C` on Windows) is refused, as Node's
 * `fileURLToPath` refuses it: decoded, `file:///tmp/a%2F..%2F..%2Fetc%2Fpasswd` would climb
 * out of the directory the URL names.
 *
 * @param input A path (returned as it is) or a `file:` URL.
 * @param windows Whether to produce a Windows path (default: this process's system).
 * @returns The path.
 * @throws {TypeError} For a URL of another protocol, a remote host off Windows, or an
 *   encoded separator in the path.
 *
 * @example
 * ```ts
 * import { toPath } from "./open_source.ts";
 * import assert from "node:assert/strict";
 * assert.equal(toPath(new URL("file:///tmp/a%20b.gguf"), false), "/tmp/a b.gguf");
 * assert.equal(toPath(new URL("file:///C:/m/a%20b.gguf"), true), "C:\\m\\a b.gguf");
 * assert.equal(toPath(new URL("file://server/share/x.gguf"), true), "\\\\server\\share\\x.gguf");
 * assert.throws(() => toPath(new URL("file:///tmp/a%2F..%2Fb"), false), TypeError);
 * ```
 */
export function toPath(input: string | URL, windows: boolean = ON_WINDOWS): string {
  if (typeof input === "string") return input;
  if (input.protocol !== "file:") {
    throw new TypeError(`Cannot open ${input.href}: only file: URLs name local files`);
  }
  const separator = windows ? /%2f|%5c/i : /%2f/i;
  if (separator.test(input.pathname)) {
    throw new TypeError(
      `Cannot open ${input.href}: a file: URL must not hold an encoded ${
        windows ? "/ or \\" : "/"
      } (%2F${windows ? ", %5C" : ""}), which would turn into a separator`,
    );
  }
  const path = decodeURIComponent(input.pathname);
  const host = input.hostname === "localhost" ? "" : input.hostname;
  if (!windows) {
    if (host !== "") {
      throw new TypeError(`Cannot open ${input.href}: a file: URL with a host names no local file`);
    }
    return path;
  }
  if (host !== "") return `\\\\${host}${path.replaceAll("/", "\\")}`;
  // "/C:/x" names drive C:.
  const drive = /^\/[A-Za-z]:/.test(path) ? path.slice(1) : path;
  return drive.replaceAll("/", "\\");
}

/**
 * Opens a file for random access: mapped where the platform maps files (`Bun.mmap` on
 * Bun, libc `mmap` through FFI on Deno with `--allow-ffi`), positional reads otherwise or
 * when asked.
 *
 * @param input A path or `file:` URL.
 * @param options The access mode and a notice callback.
 * @returns An open source; close it when done.
 * @throws {GgufError} `IO` when the file cannot be opened, or cannot be mapped with `access: "mmap"`.
 *
 * @example Forcing positional reads
 * ```ts
 * import { openByteSource } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * const path = `${mkdtempSync(`${tmpdir()}/gguf-`)}/magic.bin`;
 * writeFileSync(path, new Uint8Array([71, 71, 85, 70]));
 * const source = await openByteSource(path, { access: "read" });
 * assert.equal(source.kind, "read");
 * assert.deepEqual([...await source.read(0, 4)], [71, 71, 85, 70]);
 * await source.close();
 * rmSync(path);
 * ```
 */
export async function openByteSource(
  input: string | URL,
  options: OpenOptions = {},
): Promise<ByteSource> {
  const path = toPath(input);
  const access = options.access ?? "auto";
  if (access !== "auto" && access !== "mmap" && access !== "read") {
    throw new TypeError(`access must be "auto", "mmap" or "read", not ${JSON.stringify(access)}`);
  }
  let reader: ByteSource;
  try {
    reader = await openFileReadSource(path);
  } catch (error) {
    // A string is a path, even one that reads like a URL: say what would have worked.
    if (typeof input === "string" && /^file:/i.test(input) && error instanceof GgufError) {
      error.message += ` (a string is a path: for a file: URL, pass new URL("${input}"))`;
    }
    throw error;
  }
  if (access === "read") return reader;
  if (reader.size === 0) {
    await reader.close();
    return bytesSource(new Uint8Array(0));
  }
  const map = PLATFORM.mapFile;
  if (map !== undefined) {
    try {
      return map(path, reader);
    } catch (error) {
      // Any mapping failure falls back to positional reads (unless mmap was demanded).
      const why = isPermissionError(error)
        ? "FFI is not allowed (run Deno with --allow-ffi)"
        : error instanceof Error
        ? error.message
        : String(error);
      if (access === "mmap") {
        await reader.close();
        throw new GgufError("IO", `Cannot map ${path}: ${why}`, undefined, { cause: error });
      }
      notice(
        options,
        `cannot mmap on ${PLATFORM.displayName} (${why}); reading the file by position instead`,
      );
      return reader;
    }
  }
  if (access === "mmap") {
    await reader.close();
    throw new GgufError("IO", `Cannot map ${path}: this runtime has no mmap (use Deno or Bun)`);
  }
  notice(options, "this runtime has no mmap; reading the file by position instead");
  return reader;
}

/**
 * The one interface every parser and converter reads through.
 *
 * @module
 */
import { formatInteger } from "./errors.ts";

/** How a {@linkcode ByteSource} reaches its bytes. */
export type ByteSourceKind = "mmap" | "read" | "bytes" | "stream" | "http" | "blob";

/**
 * Access to a file's bytes: mapped memory, positional reads, a buffer, HTTP range requests
 * or a `Blob` (random access), or a stream (forward only: reading an offset already passed
 * is a `NOT_SEQUENTIAL` error).
 * Everything above this interface is the same whatever the runtime.
 */
export interface ByteSource {
  /** How the bytes are reached. */
  readonly kind: ByteSourceKind;
  /** The total size in bytes. */
  readonly size: number;
  /**
   * Reads `length` bytes at `offset`. The result may share memory with the source (a
   * mapping or the caller's buffer): treat it as read-only. With `into`, the bytes are
   * copied there and `into.subarray(0, length)` is returned.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Returns the bytes at `offset` without copying, when the source can (a mapping or a
   * buffer); `undefined` when it cannot (positional reads, or a range too large to map).
   */
  view(offset: number, length: number): Uint8Array | undefined;
  /**
   * `true` when views are valid only until `close()` (a mapping made through Deno's FFI:
   * after `close()` they read zeros); absent or `false` when views stay valid as long as
   * they are reachable (caller's bytes, Bun's mappings, which Bun unmaps when the last view
   * is garbage-collected).
   */
  readonly viewsEndAtClose?: boolean;
  /**
   * Releases the source. With `keepViews`, what views need stays (a model dropped without
   * `close()` is released this way, as its views may still be in use).
   */
  close(options?: CloseOptions): Promise<void>;
}

/** Options for {@linkcode ByteSource.close}. */
export interface CloseOptions {
  /** Release files and handles, but keep what views of the source still read. */
  keepViews?: boolean;
}

/** Checks `offset`/`length` against `size`; a bad range is the caller's error (`TypeError`). */
export function checkRange(size: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
    offset + length > size
  ) {
    throw new TypeError(
      `Byte range ${formatInteger(offset)} + ${formatInteger(length)} is outside the source (${
        formatInteger(size)
      } bytes)`,
    );
  }
}

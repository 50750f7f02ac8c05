/**
 * Standard input as a byte stream and standard output as a sink, for `convert.ts - -o -`.
 *
 * @module
 */
import type { ByteSink } from "../model/byte_sink.ts";
import { GgufError } from "../model/errors.ts";
import { PLATFORM } from "../runtime/current.ts";
import type { StandardStreams } from "../runtime/platform.ts";
import { preferReadSize, readsBlocking } from "./stream_buffer.ts";
import { WRITE_PIECE_BYTES } from "./write_piece.ts";

/** The platform's standard streams, or a `TypeError` where the runtime has none. */
function standardStreams(): StandardStreams {
  if (PLATFORM.stdio === undefined) {
    throw new TypeError(`This runtime (${PLATFORM.displayName}) has no standard input or output`);
  }
  return PLATFORM.stdio;
}

/** Bytes per read of standard input. */
const STDIN_READ_BYTES = 256 * 1024;

/**
 * Standard input as a `ReadableStream<Uint8Array>`.
 *
 * @returns The process's stdin; reading pulls from it as the consumer asks.
 * @throws {GgufError} `IO` when standard input is a directory.
 *
 * @example Read the model from standard input
 * `convert.ts - -o OUT` reads it this way.
 * ```ts
 * import { stdinStream } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * // Pass it to readGgufStream() or convertStream() as any other byte stream; nothing is
 * // read until the consumer asks.
 * const input = stdinStream();
 * assert.ok(input instanceof ReadableStream);
 * ```
 */
export function stdinStream(): ReadableStream<Uint8Array> {
  const stdio = standardStreams();
  let directory = false;
  try {
    directory = stdio.stat(0).kind === "directory";
  } catch {
    // No way to tell: reading will say what is wrong.
  }
  if (directory) {
    throw new GgufError(
      "IO",
      "Cannot read standard input: it is a directory; redirect a model into it (< MODEL.gguf)",
    );
  }
  growIfPipe(stdio, 0);
  // Read 256 KiB at a time: a quarter of the reads of the default 64 KiB.
  return preferReadSize(stdio.stdin(), STDIN_READ_BYTES);
}

/** Asks for a larger buffer when standard input or output is a pipe (see `_pipe_size.ts`). */
function growIfPipe(stdio: StandardStreams, fd: 0 | 1): void {
  try {
    if (stdio.stat(fd).kind === "fifo") PLATFORM.growPipe?.(fd);
  } catch {
    // No way to tell: the pipe keeps its size.
  }
}

/** The error of a failed write to standard output, what the system said in its message. */
function stdoutWriteError(cause: unknown): GgufError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new GgufError("IO", `Cannot write to standard output: ${reason}`, undefined, { cause });
}

/**
 * Standard output as a {@linkcode ByteSink}. Each write resolves once the bytes are handed
 * to the operating system, so the caller may reuse its buffer. `abort()` cannot take back
 * what was written: a consumer of a failed conversion sees a short stream.
 *
 * @returns A sink writing to stdout.
 *
 * @example Write bytes to standard output
 * `writeConvertedModel(model, () => Promise.resolve(stdoutSink()))` writes a converted
 * model there, as `convert.ts MODEL -o -` does.
 * ```ts
 * import { stdoutSink } from "gguf-stream/sources";
 * const sink = stdoutSink();
 * await sink.write(new TextEncoder().encode("converted bytes go here\n"));
 * await sink.commit();
 * ```
 */
export function stdoutSink(): ByteSink {
  const stdio = standardStreams();
  growIfPipe(stdio, 1);
  return {
    async write(bytes) {
      try {
        // In pieces, for when standard output is a file (`-o - > OUT`).
        for (let at = 0; at < bytes.length; at += WRITE_PIECE_BYTES) {
          await stdio.writeStdout(bytes.subarray(at, at + WRITE_PIECE_BYTES));
        }
      } catch (cause) {
        throw stdoutWriteError(cause);
      }
    },
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}

/** Output bytes per chunk for {@linkcode stdoutSyncSink}: small enough to be written from the core's cache. */
const SYNC_CHUNK_BYTES = 128 * 1024;

/**
 * Standard input read with blocking reads, for a worker thread: the same bytes as
 * {@linkcode stdinStream}, without a hand-over to another thread for every read.
 *
 * @returns The process's stdin, or `undefined` where the runtime has no blocking reads.
 */
export function stdinSyncStream(): ReadableStream<Uint8Array> | undefined {
  const stdio = standardStreams();
  const readSync = stdio.readStdinSync;
  if (readSync === undefined) return undefined;
  growIfPipe(stdio, 0);
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view!;
      const count = readSync(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      if (count === 0) {
        controller.close();
        request.respond(0);
      } else request.respond(count);
    },
  });
  // A buffer over it (the model's source) calls readSync itself: no promise per read.
  return readsBlocking(
    preferReadSize(stream as ReadableStream<Uint8Array>, STDIN_READ_BYTES),
    readSync,
  );
}

/**
 * Standard output as a {@linkcode ByteSink} writing with blocking writes, for a worker
 * thread: each write returns once the bytes are written, so the chunks may be small
 * (128 KiB, still in the core's cache as they are written into a pipe).
 *
 * @returns The sink, or `undefined` where the runtime has no blocking writes.
 */
export function stdoutSyncSink(): ByteSink | undefined {
  const stdio = standardStreams();
  const writeSync = stdio.writeStdoutSync;
  if (writeSync === undefined) return undefined;
  growIfPipe(stdio, 1);
  return {
    write(bytes) {
      try {
        writeSync(bytes);
        return Promise.resolve();
      } catch (cause) {
        return Promise.reject(stdoutWriteError(cause));
      }
    },
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
    chunkBytes: SYNC_CHUNK_BYTES,
  };
}

/**
 * The identity (`dev:ino`) of the file standard output is, when it is a regular file;
 * `undefined` for a pipe or a terminal.
 *
 * @returns The identity, or `undefined`.
 *
 * @example
 * ```ts
 * import { stdoutIdentity } from "./stdio.ts";
 * import assert from "node:assert/strict";
 * const identity = stdoutIdentity();
 * assert.ok(identity === undefined || /^\d+:\d+$/.test(identity));
 * ```
 */
export function stdoutIdentity(): string | undefined {
  try {
    const stat = standardStreams().stat(1);
    return stat.kind === "file" ? `${stat.dev}:${stat.ino}` : undefined;
  } catch {
    return undefined;
  }
}

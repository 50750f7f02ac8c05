/**
 * Standard input as a byte stream and standard output as a sink, for `convert.ts - -o -`.
 *
 * @module
 */
import { nodeBuiltin } from "./_node_builtin.ts";
import type { ByteSink } from "../model/byte_sink.ts";
import { GgufError } from "../model/errors.ts";
import { RUNTIME } from "./open_source.ts";
import { preferReadSize } from "./stream_buffer.ts";

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
 * import { stdinStream } from "./stdio.ts";
 * import assert from "node:assert/strict";
 * // Pass it to readGgufStream() or convertStream() as any other byte stream; nothing is
 * // read until the consumer asks.
 * const input = stdinStream();
 * assert.ok(input instanceof ReadableStream);
 * ```
 */
export function stdinStream(): ReadableStream<Uint8Array> {
  let directory = false;
  try {
    directory = nodeBuiltin("node:fs").fstatSync(0).isDirectory();
  } catch {
    // No way to tell: reading will say what is wrong.
  }
  if (directory) {
    throw new GgufError(
      "IO",
      "Cannot read standard input: it is a directory; redirect a model into it (< MODEL.gguf)",
    );
  }
  // Read 256 KiB at a time: a quarter of the reads of the default 64 KiB.
  return preferReadSize(
    RUNTIME === "deno" ? Deno.stdin.readable : fileDescriptorStream(0),
    STDIN_READ_BYTES,
  );
}

/** Retry delay when a non-blocking descriptor has no data yet. */
const EAGAIN_DELAY_MS = 2;

/**
 * A byte stream over a file descriptor, read with `node:fs` straight into the reader's
 * buffer (BYOB), so a BYOB reader allocates nothing per chunk.
 */
function fileDescriptorStream(fd: number): ReadableStream<Uint8Array> {
  let fs: typeof import("node:fs") | undefined;
  const readInto = (view: Uint8Array): Promise<number> =>
    new Promise((resolve, reject) => {
      fs!.read(fd, view, 0, view.byteLength, null, (error, bytesRead) => {
        if (error === null) resolve(bytesRead);
        else if (error.code === "EAGAIN") {
          setTimeout(() => readInto(view).then(resolve, reject), EAGAIN_DELAY_MS);
        } else reject(error);
      });
    });
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 64 * 1024,
    async pull(controller) {
      fs ??= nodeBuiltin("node:fs");
      const request = controller.byobRequest!;
      const view = request.view!;
      const bytesRead = await readInto(
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
      );
      if (bytesRead === 0) {
        controller.close();
        request.respond(0);
      } else {
        request.respond(bytesRead);
      }
    },
  });
}

/**
 * Writes all of `bytes` to a file descriptor with blocking writes on the runtime's thread
 * pool (as `cat` does: a third faster into a pipe than `process.stdout` under Bun, and
 * this thread stays free), retrying short writes and, on a non-blocking descriptor,
 * `EAGAIN`.
 */
function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  const fs = nodeBuiltin("node:fs");
  return new Promise<void>((resolve, reject) => {
    const from = (done: number) => {
      if (done >= bytes.length) return resolve();
      fs.write(fd, bytes, done, bytes.length - done, null, (error, written) => {
        if (error === null) from(done + written);
        else if (error.code === "EAGAIN") setTimeout(() => from(done), EAGAIN_DELAY_MS);
        else reject(error);
      });
    };
    from(0);
  });
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
 * import { stdoutSink } from "./stdio.ts";
 * const sink = stdoutSink();
 * await sink.write(new TextEncoder().encode("converted bytes go here\n"));
 * await sink.commit();
 * ```
 */
export function stdoutSink(): ByteSink {
  const write = RUNTIME === "deno"
    ? async (bytes: Uint8Array) => {
      for (let done = 0; done < bytes.length;) {
        done += await Deno.stdout.write(bytes.subarray(done));
      }
    }
    : (bytes: Uint8Array) => writeAll(1, bytes);
  // `process.stdout` is left alone: under Bun and Node, touching it makes a pipe
  // non-blocking, and every write then meets EAGAIN.
  return {
    async write(bytes) {
      try {
        await write(bytes);
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new GgufError("IO", `Cannot write to standard output: ${reason}`, undefined, {
          cause,
        });
      }
    },
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
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
    const stat = nodeBuiltin("node:fs").fstatSync(1);
    return stat.isFile() ? `${stat.dev}:${stat.ino}` : undefined;
  } catch {
    return undefined;
  }
}

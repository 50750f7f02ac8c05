/**
 * Standard input as a byte stream and standard output as a sink, for `convert.ts - -o -`.
 *
 * @module
 */
import type { ByteSink } from "../convert_file.ts";
import { GgufError } from "../errors.ts";
import { RUNTIME } from "./open_source.ts";

interface BunStdio {
  stdin: { stream(): ReadableStream<Uint8Array> };
}

/**
 * Standard input as a `ReadableStream<Uint8Array>`.
 *
 * @returns The process's stdin; reading pulls from it as the consumer asks.
 *
 * @example
 * ```ts ignore
 * const model = await openGgufStream(stdinStream());
 * ```
 */
export function stdinStream(): ReadableStream<Uint8Array> {
  if (RUNTIME === "deno") return Deno.stdin.readable;
  if (RUNTIME === "bun") return (globalThis as unknown as { Bun: BunStdio }).Bun.stdin.stream();
  return ReadableStream.from(process.stdin as AsyncIterable<Uint8Array>);
}

/**
 * Standard output as a {@linkcode ByteSink}. Each write resolves once the bytes are handed
 * to the operating system, so the caller may reuse its buffer. `abort()` cannot take back
 * what was written: a consumer of a failed conversion sees a short stream.
 *
 * @returns A sink writing to stdout.
 *
 * @example
 * ```ts ignore
 * await writeConverted(model, plan, stdoutSink(), { header });
 * ```
 */
export function stdoutSink(): ByteSink {
  const write = RUNTIME === "deno"
    ? async (bytes: Uint8Array) => {
      for (let done = 0; done < bytes.length;) {
        done += await Deno.stdout.write(bytes.subarray(done));
      }
    }
    : (bytes: Uint8Array) =>
      new Promise<void>((resolve, reject) => {
        process.stdout.write(bytes, (error) => (error ? reject(error) : resolve()));
      });
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

/**
 * Standard input converted to standard output on a worker thread, with blocking reads and
 * writes: the thread converts 128 KiB, writes it while it is still in the core's cache,
 * and waits in the kernel, not in the event loop, when the pipe is full. This thread
 * stays free for signals and progress, and ends the worker when the conversion is aborted
 * (a blocked write cannot be taken back, as with any writer into a pipe).
 *
 * @module
 */
import type { ConversionSummary } from "../model/conversion.ts";
import { abortedError, GgufError } from "../model/errors.ts";
import { printWarning } from "../convert/prepare.ts";
import { PLATFORM } from "../runtime/current.ts";
import type { ConvertFileOptions, ConvertFileResult, ConvertProgress } from "./file.ts";
import type { StdioWorkerMessage, StdioWorkerRequest } from "./stdio_worker.ts";

/** The worker's module: TypeScript beside this one in the sources, JavaScript in dist/. */
function workerUrl(): URL | undefined {
  const here: unknown = import.meta.url;
  if (typeof here !== "string") return undefined;
  return new URL(here.endsWith(".ts") ? "./stdio_worker.ts" : "./stdio_worker.js", here);
}

/**
 * Whether {@linkcode convertStdioInWorker} can run here: worker threads, blocking
 * standard input and output, and standard output a pipe (a file or a terminal takes
 * large writes as well from this thread).
 *
 * @returns `true` where it can.
 *
 * @example
 * ```ts
 * import { canConvertStdioInWorker } from "./stdio_conversion.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof canConvertStdioInWorker(), "boolean");
 * ```
 */
export function canConvertStdioInWorker(): boolean {
  const stdio = PLATFORM.stdio;
  if (stdio?.readStdinSync === undefined || stdio.writeStdoutSync === undefined) return false;
  if (!PLATFORM.canStartWorkers() || workerUrl() === undefined) return false;
  try {
    return stdio.stat(1).kind === "fifo";
  } catch {
    return false;
  }
}

/** A `GgufError` (or other error) as the worker described it. */
function rebuild(message: Extract<StdioWorkerMessage, { kind: "failed" }>): Error {
  let error: Error;
  if (message.code !== undefined) error = new GgufError(message.code, "", message.offset);
  else if (message.name === "TypeError") error = new TypeError();
  else if (message.name === "RangeError") error = new RangeError();
  else error = new Error();
  // The message was escaped once, where it was made.
  error.message = message.message;
  return error;
}

/**
 * Converts the model on standard input to standard output, as `writeConvertedModel()`
 * into `stdoutSink()` would, on a worker thread with blocking reads and writes (see the
 * module's notes). The output bytes are the same.
 *
 * @param options Conversion and open options (callbacks are called here, on this thread).
 * @returns The conversion's result.
 * @throws {GgufError} What the conversion raises; `ABORTED`, the signal's reason as its
 *   `cause`, when the signal fires (the worker is ended then).
 *
 * @example
 * `convert.ts - -o - | …` converts this way where {@linkcode canConvertStdioInWorker}.
 * ```ts
 * import { canConvertStdioInWorker, convertStdioInWorker } from "./stdio_conversion.ts";
 * // Only where standard output is a pipe and a model arrives on standard input:
 * if (canConvertStdioInWorker() && Deno.env.get("GGUF_ON_STDIN") === "1") {
 *   const result = await convertStdioInWorker({ policy: { requantize: "Q8_0" } });
 *   console.error(result.outputBytes);
 * }
 * ```
 */
export function convertStdioInWorker(
  options: ConvertFileOptions = {},
): Promise<ConvertFileResult> {
  const { signal, onWarning, onNotice, onProgress, onSummary } = options;
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (typeof value !== "function" && key !== "signal") plain[key] = value;
  }
  const url = workerUrl();
  return new Promise<ConvertFileResult>((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal.reason, signal));
    let settled = false;
    const finish = (error: unknown, result?: ConvertFileResult) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      thread?.terminate();
      if (result !== undefined) resolve(result);
      else reject(error);
    };
    const onAbort = () => finish(abortedError(signal!.reason, signal));
    const thread = url === undefined ? undefined : PLATFORM.startWorker(url, {
      onMessage(data) {
        const message = data as StdioWorkerMessage;
        if (message.kind === "warning") (onWarning ?? printWarning)(message.message);
        else if (message.kind === "notice") onNotice?.(message.message);
        else if (message.kind === "progress") {
          const progress: ConvertProgress = message;
          onProgress?.(progress);
        } else if (message.kind === "done") {
          onSummary?.(message.result.summary as ConversionSummary);
          finish(undefined, message.result);
        } else if (message.kind === "failed") finish(rebuild(message));
      },
      onError: (error) => finish(error),
      onExit: () => finish(new Error("The conversion's worker thread stopped")),
    });
    if (thread === undefined) {
      return finish(new TypeError("Cannot start a worker thread here"));
    }
    thread.keepAlive(true);
    signal?.addEventListener("abort", onAbort, { once: true });
    const request: StdioWorkerRequest = {
      options: plain as ConvertFileOptions,
      notices: onNotice !== undefined,
      progress: onProgress !== undefined,
    };
    thread.postMessage(request);
  });
}

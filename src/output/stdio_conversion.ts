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
import { printWarning } from "../convert/print_warning.ts";
import { PLATFORM, type WorkerEvents, type WorkerThread } from "../runtime/current.ts";
import type { ConvertFileOptions, ConvertFileResult, ConvertProgress } from "./file.ts";
import type { StdioWorkerMessage, StdioWorkerRequest } from "./stdio_worker.ts";

/** The worker's module: TypeScript beside this one in the sources, JavaScript in dist/. */
function workerUrl(): URL | undefined {
  const here: unknown = import.meta.url;
  if (typeof here !== "string") return undefined;
  return new URL(here.endsWith(".ts") ? "./stdio_worker.ts" : "./stdio_worker.js", here);
}

/**
 * Whether {@linkcode convertStdioInWorker} can run here: worker threads that may load
 * the worker's module (Deno needs read access to it), blocking standard input and output,
 * and standard output a pipe (a file or a terminal takes large writes as well from this
 * thread).
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
  const url = workerUrl();
  if (url === undefined || !PLATFORM.canStartWorkers(url)) return false;
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

/** What a worker reports before a conversion is given to it, kept until one is. */
type EarlyEvent = { kind: "error"; error: Error } | { kind: "exit" };

/**
 * A worker thread started ahead of its conversion by {@linkcode startStdioWorker}: it loads
 * its modules while this thread does its own start-up.
 */
export interface StartedStdioWorker {
  /** Ends the thread, unless a conversion was given to it (which then owns it). */
  cancel(): void;
}

/** The thread and where its events go: nowhere yet, or a conversion's handlers. */
class EarlyWorker implements StartedStdioWorker {
  #thread: WorkerThread | undefined;
  #events: WorkerEvents | undefined;
  #early: EarlyEvent[] = [];
  #used = false;

  constructor(url: URL) {
    this.#thread = PLATFORM.startWorker(url, {
      onMessage: (data) => this.#events?.onMessage(data),
      onError: (error) =>
        this.#events ? this.#events.onError(error) : this.#early.push({ kind: "error", error }),
      onExit: () => this.#events ? this.#events.onExit?.() : this.#early.push({ kind: "exit" }),
    });
    // Idle until a conversion arrives: it must not keep the process alive by itself.
    this.#thread?.keepAlive(false);
  }

  /** Hands the thread to a conversion; `undefined` if it was handed over before or ended. */
  take(events: WorkerEvents): WorkerThread | undefined {
    if (this.#used || this.#thread === undefined) return undefined;
    this.#used = true;
    this.#events = events;
    // Told after the caller holds the thread, which its handlers end.
    const early = this.#early.splice(0);
    if (early.length > 0) {
      queueMicrotask(() => {
        for (const event of early) {
          if (event.kind === "error") events.onError(event.error);
          else events.onExit?.();
        }
      });
    }
    return this.#thread;
  }

  cancel(): void {
    if (this.#used) return;
    this.#used = true;
    this.#thread?.terminate();
  }
}

/**
 * Starts the worker of {@linkcode convertStdioInWorker} before the conversion is known, so
 * that it loads its modules while this thread parses flags and loads its own; pass the
 * result to `convertStdioInWorker()`, or `cancel()` it. `undefined` where
 * {@linkcode canConvertStdioInWorker} says no.
 *
 * @returns The started worker, or `undefined`.
 *
 * @example
 * ```ts
 * import { startStdioWorker } from "./stdio_conversion.ts";
 * const started = startStdioWorker();
 * // ... the flags turn out to ask for something else:
 * started?.cancel();
 * ```
 */
export function startStdioWorker(): StartedStdioWorker | undefined {
  // It has a URL to start from whenever it can convert here.
  return canConvertStdioInWorker() ? new EarlyWorker(workerUrl()!) : undefined;
}

/**
 * Converts the model on standard input to standard output, as `writeConvertedModel()`
 * into `stdoutSink()` would, on a worker thread with blocking reads and writes (see the
 * module's notes). The output bytes are the same.
 *
 * @param options Conversion and open options (callbacks are called here, on this thread).
 * @param started A worker from {@linkcode startStdioWorker}, used instead of a new one.
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
  started?: StartedStdioWorker,
): Promise<ConvertFileResult> {
  const { signal, onWarning, onNotice, onProgress, onSummary } = options;
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (typeof value !== "function" && key !== "signal") plain[key] = value;
  }
  const url = workerUrl();
  return new Promise<ConvertFileResult>((resolve, reject) => {
    if (signal?.aborted) {
      started?.cancel();
      return reject(abortedError(signal.reason, signal));
    }
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
    const events: WorkerEvents = {
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
    };
    if (started !== undefined && !(started instanceof EarlyWorker)) {
      return finish(new TypeError("`started` must come from startStdioWorker()"));
    }
    const thread = started !== undefined
      ? started.take(events)
      : url === undefined
      ? undefined
      : PLATFORM.startWorker(url, events);
    if (thread === undefined) {
      return finish(
        new TypeError(
          started === undefined
            ? "Cannot start a worker thread here"
            : "The started worker was cancelled or has converted already",
        ),
      );
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

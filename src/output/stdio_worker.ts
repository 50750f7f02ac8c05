/**
 * The worker thread of {@linkcode convertStdioInWorker}: opens the model on standard
 * input and converts it to standard output with blocking reads and writes, posting its
 * warnings, notices, progress and result (or error) to the thread that started it.
 *
 * @module
 */
import { GgufError, type GgufErrorCode } from "../model/errors.ts";
import { openGgufModel } from "../open/open_model.ts";
import { stdinSyncStream, stdoutSyncSink } from "../source/stdio.ts";
import { type ConvertFileOptions, type ConvertFileResult, writeConvertedModel } from "./file.ts";

/** What `convertStdioInWorker()` posts to its worker: the options that can travel. */
export interface StdioWorkerRequest {
  /** The conversion's options without callbacks or signal. */
  options: ConvertFileOptions;
  /** Whether notices are wanted. */
  notices: boolean;
  /** Whether progress is wanted. */
  progress: boolean;
}

/** What the worker posts back. */
export type StdioWorkerMessage =
  | { kind: "warning" | "notice"; message: string }
  | { kind: "progress"; bytesWritten: number; totalBytes: number }
  | { kind: "done"; result: ConvertFileResult }
  | { kind: "failed"; name: string; message: string; code?: GgufErrorCode; offset?: number };

const scope = globalThis as unknown as {
  onmessage: ((event: { data: StdioWorkerRequest }) => void) | null;
  postMessage(message: StdioWorkerMessage): void;
};

/** Progress is posted at most this often (bytes written), and once at the end. */
const PROGRESS_STEP_BYTES = 16 << 20;

async function run(request: StdioWorkerRequest): Promise<void> {
  const post = (message: StdioWorkerMessage) => scope.postMessage(message);
  const input = stdinSyncStream();
  const sink = stdoutSyncSink();
  if (input === undefined || sink === undefined) {
    throw new TypeError("This runtime has no blocking standard input and output");
  }
  const options: ConvertFileOptions = {
    ...request.options,
    onWarning: (message) => post({ kind: "warning", message }),
    onNotice: request.notices ? (message) => post({ kind: "notice", message }) : undefined,
  };
  if (request.progress) {
    let posted = 0;
    options.onProgress = ({ bytesWritten, totalBytes }) => {
      if (bytesWritten - posted < PROGRESS_STEP_BYTES && bytesWritten < totalBytes) return;
      posted = bytesWritten;
      post({ kind: "progress", bytesWritten, totalBytes });
    };
  }
  const model = await openGgufModel(input, options);
  try {
    const result = await writeConvertedModel(model, () => Promise.resolve(sink), options);
    post({ kind: "done", result });
  } finally {
    await model.close();
  }
}

scope.onmessage = ({ data }) => {
  scope.onmessage = null;
  run(data).catch((error: unknown) => {
    const e = error instanceof Error ? error : new Error(String(error));
    scope.postMessage({
      kind: "failed",
      name: e.name,
      message: e.message,
      code: e instanceof GgufError ? e.code : undefined,
      offset: e instanceof GgufError ? e.offset : undefined,
    });
  });
};

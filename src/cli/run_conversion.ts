/**
 * The CLI's conversion run: the output checked before any work, the input opened, signals
 * (SIGINT, SIGTERM, SIGHUP) turned into a clean abort at any moment — even while waiting
 * on a stalled pipe — a progress bar, and the closing summary.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { escapeText } from "../model/escape_text.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import type { OpenModelOptions } from "../open/open_model.ts";
import type { ConvertFileOptions, ConvertFileResult } from "../output/file.ts";
import {
  canConvertStdioInWorker,
  convertStdioInWorker,
  type StartedStdioWorker,
} from "../output/stdio_conversion.ts";
import { PLATFORM } from "../runtime/current.ts";
import { stdinStream, stdoutIdentity, stdoutSink } from "../source/stdio.ts";
import { toJsonText } from "./json_text.ts";
import { shownInput } from "./cli_message.ts";
import type { WritePhases } from "../model/byte_sink.ts";
import type { ConversionSummary } from "../model/conversion.ts";
import { peakMemory } from "./peak_memory.ts";
import { formatBytes, formatSeconds, ProgressBar } from "./progress_bar.ts";

/** Where the CLI writes. */
export interface CliIo {
  /**
   * Writes text to standard output. A returned promise is awaited before the CLI writes
   * more, so long output (a dump of many rows, written piece by piece) goes out as fast as
   * the reader takes it instead of piling up in memory; a rejection ends the run (a
   * `GgufError`: its one-line message, exit status 1). Any other result is ignored.
   */
  stdout(text: string): unknown;
  /** Writes text to standard error (warnings, progress, the summary, errors). */
  stderr(text: string): void;
  /** How the user started the CLI, for `--help` (e.g. `gguf-stream`); from the runtime if absent. */
  program?: string;
}

/** The signals that interrupt a conversion, with their numbers (exit status 128 + n). */
export const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * Opens the CLI's input: a file or split model by path, or standard input for `-` (with
 * a notice when standard input is a terminal, where nothing would ever arrive).
 *
 * @param input A path, or `-`.
 * @param options Open options, with the signal that cancels a pending read.
 * @param notice Where the notice goes.
 * @returns The open model.
 */
export async function openInput(
  input: string,
  options: OpenModelOptions,
  notice: (message: string) => void,
): Promise<GgufModel> {
  // Loaded when needed: a pipe converted on a worker thread never opens a model here.
  const { openGgufModel } = await import("../open/open_model.ts");
  if (input !== "-") return openGgufModel(input, options);
  stdinTerminalNotice(notice);
  return openGgufModel(stdinStream(), options);
}

/** Says so when standard input is a terminal, where nothing would ever arrive. */
function stdinTerminalNotice(notice: (message: string) => void): void {
  if (PLATFORM.process?.stdinIsTerminal() === true) {
    notice(
      "reading the model from standard input, which is a terminal: pipe a file in (< MODEL.gguf) or press Ctrl-C",
    );
  }
}

/** Installs handlers for {@linkcode SIGNALS}; the returned function removes them. */
function onSignals(handler: (name: string) => void): () => void {
  const removers: (() => void)[] = [];
  for (const name of Object.keys(SIGNALS)) {
    try {
      const remove = PLATFORM.process?.onSignal(name, () => handler(name));
      if (remove !== undefined) removers.push(remove);
    } catch {
      // A signal this system does not have (SIGHUP on Windows).
    }
  }
  return () => {
    for (const remove of removers) remove();
  };
}

/**
 * Converts `input` to `output` (a path or `-`) with signal handling, progress and summary.
 *
 * @param input A path or `-`.
 * @param output A path or `-`.
 * @param options Conversion options, `quiet`, and `json` (the summary as JSON on stdout).
 * @param cli Output streams, the warning printer, whether to show progress, and a worker
 *   started ahead by `startStdioWorker()` for `- -o -` (its caller cancels it if unused).
 * @returns The exit status: 0, or 128 + the signal's number when interrupted.
 * @throws {GgufError} For bad input, a bad output path or an I/O failure.
 */
export async function runConversion(
  input: string,
  output: string,
  options: ConvertFileOptions & { quiet: boolean; json?: boolean; verbose?: boolean },
  cli: {
    io: CliIo;
    warn: (message: string) => void;
    notice: (message: string) => void;
    progress: boolean;
    worker?: StartedStdioWorker;
  },
): Promise<number> {
  const toPipe = input === "-" && output === "-" && canConvertStdioInWorker();
  // Loaded when needed, as openInput() does. The output is checked before any byte is read.
  const sinks = output === "-" ? undefined : await import("../source/file_sink.ts");
  if (sinks !== undefined) {
    sinks.checkOutputPath(output, { force: options.force, inputs: input === "-" ? [] : [input] });
  }
  const controller = new AbortController();
  let interrupted: string | undefined;
  const removeHandlers = onSignals((name) => {
    interrupted ??= name;
    controller.abort(
      new GgufError("ABORTED", `Interrupted by ${name}; the output was not written`),
    );
  });
  const bar = cli.progress ? new ProgressBar(cli.io.stderr) : undefined;
  const start = performance.now();
  let model: GgufModel | undefined;
  try {
    const convertOptions: ConvertFileOptions = {
      ...options,
      signal: controller.signal,
      onWarning: cli.warn,
      onProgress: bar ? (p) => bar.update(p.bytesWritten, p.totalBytes) : undefined,
    };
    let result: ConvertFileResult;
    if (toPipe) {
      // A pipe into a pipe: converted on a worker thread that may block on both.
      stdinTerminalNotice(cli.notice);
      if (options.verbose) {
        cli.notice("converting on a worker thread, with blocking reads and writes (a pipe)");
      }
      result = await convertStdioInWorker(convertOptions, cli.worker);
    } else {
      const { writeConvertedModel } = await import("../output/file.ts");
      model = await openInput(input, { ...options, signal: controller.signal }, cli.notice);
      const inputs = model.parts.flatMap((part) => (part.path === undefined ? [] : [part.path]));
      if (output === "-") checkStdoutIsNotInput(inputs);
      const openSink = () =>
        output === "-" ? Promise.resolve(stdoutSink()) : sinks!.openFileSink(output, {
          force: options.force,
          inputs,
          onWarning: convertOptions.onWarning,
        });
      result = await writeConvertedModel(model, openSink, convertOptions);
    }
    bar?.finish();
    const { summary } = result;
    if (options.json) {
      await cli.io.stdout(
        toJsonText({
          input: shownInput(input),
          output,
          tensors: result.plan.length,
          input_bytes: result.inputBytes,
          output_bytes: result.outputBytes,
          weights: summary.weights,
          converted_weights: summary.convertedWeights,
          bits_per_weight_in: summary.bitsPerWeightIn,
          bits_per_weight_out: summary.bitsPerWeightOut,
          relative_error: summary.relativeError,
          largest_tensor_error: summary.largestError === undefined ? null : {
            tensor: summary.largestError.tensor,
            relative_error: summary.largestError.relativeError,
          },
          phases: jsonPhases(result.phases),
        }) + "\n",
      );
    }
    if (!options.quiet) {
      const counts = new Map<string, number>();
      for (const entry of result.plan) {
        counts.set(entry.action, (counts.get(entry.action) ?? 0) + 1);
      }
      const actions = [...counts].map(([action, n]) => `${n} ${action}`).join(", ");
      const seconds = (performance.now() - start) / 1000;
      cli.io.stderr(
        `converted ${result.plan.length} tensor${
          result.plan.length === 1 ? "" : "s"
        } (${actions}) from ${result.parts} file${result.parts === 1 ? "" : "s"}: ${
          formatBytes(result.inputBytes)
        } -> ${formatBytes(result.outputBytes)}\n` +
          `in ${formatSeconds(seconds)}, peak memory ${formatBytes(peakMemory())}; wrote ${
            output === "-" ? "standard output" : output
          }\n` +
          `${summary.bitsPerWeightIn.toFixed(2)} -> ${
            summary.bitsPerWeightOut.toFixed(2)
          } bits per weight; ${errorText(summary)}\n`,
      );
    }
    if (options.verbose) cli.notice(phasesText(result.phases));
    return 0;
  } catch (error) {
    if (interrupted === undefined) throw error;
    cli.io.stderr(
      `error: interrupted by ${interrupted}; ${
        output === "-" ? "standard output is incomplete" : `${output} was not written`
      }\n`,
    );
    return 128 + SIGNALS[interrupted];
  } finally {
    bar?.finish();
    removeHandlers();
    await model?.close();
  }
}

/**
 * What the summary says of the conversion's error: the relative RMS error over the
 * converted weights and the largest of one tensor, or why there is none to give. The
 * tensor's name is escaped for a terminal.
 *
 * @param summary The conversion's summary.
 * @returns The text, e.g. `relative error 0.412 % (RMS, over the 1_441_792 converted
 *   weights); 1.23 % in "blk.0.ffn_down.weight", the most of one tensor`.
 *
 * @example
 * ```ts
 * import { errorText } from "./run_conversion.ts";
 * import assert from "node:assert/strict";
 * const summary = { weights: 8, bitsPerWeightIn: 32, bitsPerWeightOut: 32, convertedWeights: 0 };
 * assert.equal(errorText({ ...summary, relativeError: 0 }), "no weights converted (every tensor kept)");
 * const largestError = { tensor: "b", relativeError: 0.05 };
 * assert.equal(
 *   errorText({ ...summary, convertedWeights: 8, relativeError: 0.001, largestError }),
 *   'relative error 0.100 % (RMS, over the 8 converted weights); 5.00 % in "b", the most of one tensor',
 * );
 * ```
 */
export function errorText(summary: ConversionSummary): string {
  const over = `over the ${formatInteger(summary.convertedWeights)} converted weights`;
  if (summary.convertedWeights === 0) return "no weights converted (every tensor kept)";
  const largest = summary.largestError;
  const name = largest === undefined ? "" : escapeText(JSON.stringify(largest.tensor));
  if (!Number.isFinite(summary.relativeError)) {
    return `relative error unbounded: the output holds NaN or infinite values where the input's are finite (values past what the output type can hold; ${over}${
      largest === undefined ? "" : `; the first such tensor is ${name}`
    })`;
  }
  const text = `relative error ${(summary.relativeError * 100).toPrecision(3)} % (RMS, ${over})`;
  // Said only where it adds something: another tensor than the only one, a larger error.
  if (largest === undefined || !(largest.relativeError > summary.relativeError)) return text;
  return `${text}; ${
    (largest.relativeError * 100).toPrecision(3)
  } % in ${name}, the most of one tensor`;
}

/** `WritePhases` with snake_case keys, as the rest of `--json`. */
function jsonPhases(phases: WritePhases): Record<string, unknown> {
  const snake = (name: string) => name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(phases)) {
    out[snake(name)] = typeof value === "number"
      ? value
      : Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), v]));
  }
  return out;
}

/** One line saying where a conversion's time went, for `-v`. */
export function phasesText(phases: WritePhases): string {
  const s = (seconds: number) => `${seconds.toFixed(2)} s`;
  let text = `time: preparing ${s(phases.preparing)}, converting ${
    s(phases.converting)
  }, waiting on writes ${s(phases.waitingOnWrites)}, committing ${s(phases.committing)}`;
  const sink = phases.sink;
  if (sink !== undefined && sink.finalFlush !== undefined) {
    text += ` (final flush ${s(sink.finalFlush)}, waiting on a background flush ${
      s(sink.waitingOnFlush ?? 0)
    }, rename ${s(sink.rename ?? 0)}, directory flush ${s(sink.directoryFlush ?? 0)}; ${
      sink.backgroundFlushes ?? 0
    } background flushes${
      sink.writeBacks ? ` (${sink.writeBacks} by range write-back)` : ""
    } took ${s(sink.backgroundFlushing ?? 0)} beside the conversion)`;
  }
  return text;
}

/** Refuses `-o - >> MODEL.gguf`: standard output appending to the very input being read. */
function checkStdoutIsNotInput(inputs: string[]): void {
  const out = stdoutIdentity();
  if (out === undefined) return;
  const files = PLATFORM.files;
  if (files === undefined) return;
  for (const input of inputs) {
    try {
      const stat = files.statSync(input, true);
      if (`${stat.dev}:${stat.ino}` === out) {
        throw new GgufError(
          "SAME_FILE",
          `Cannot write to standard output: it is the input ${input}; redirect it elsewhere`,
        );
      }
    } catch (error) {
      if (error instanceof GgufError) throw error;
    }
  }
}

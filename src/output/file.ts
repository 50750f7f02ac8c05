/**
 * File output: a converted model streamed chunk by chunk into a sink — a temporary file
 * renamed into place when complete, standard output, or a caller's own.
 *
 * @module
 */
import type { ByteSink, WritePhases } from "../model/byte_sink.ts";
import type { ConversionSummary, TensorPlan } from "../model/conversion.ts";
import { abortedError, formatInteger, GgufError } from "../model/errors.ts";
import { untilAborted } from "../model/until_aborted.ts";
import { checkOptionKeys, type OptionKeys } from "../model/option_keys.ts";
import type { GgufModel, GgufPart } from "../model/gguf_model.ts";
import {
  conversionSummary,
  CONVERT_OPTION_KEYS,
  type ConvertOptions,
  prepareMeasuredConversion,
} from "../convert/prepare.ts";
import type { ConversionSums } from "../convert/convert_range.ts";
import {
  OPEN_MODEL_OPTION_KEYS,
  openGgufModel,
  type OpenModelOptions,
} from "../open/open_model.ts";
import { remoteUrl } from "../open/resolve_input.ts";
import { checkOutputPath, openFileSink } from "../source/file_sink.ts";
import { printWarning } from "../convert/print_warning.ts";
import { encodeConverted } from "./encode_model.ts";

/** Progress of a conversion to a sink. */
export interface ConvertProgress {
  /** Output bytes written so far. */
  bytesWritten: number;
  /** The output's final size. */
  totalBytes: number;
}

/** Options for {@linkcode writeConvertedModel}. */
export interface WriteOptions extends ConvertOptions {
  /** Called after each chunk is written. */
  onProgress?: (progress: ConvertProgress) => void;
}

/** Options for {@linkcode convertFile}. */
export interface ConvertFileOptions extends WriteOptions, OpenModelOptions {
  /** Replace an existing output file (default: refuse with `OUTPUT_EXISTS`). */
  force?: boolean;
}

/** Every key of {@linkcode ConvertFileOptions}, for option checks. */
const CONVERT_FILE_OPTION_KEYS: OptionKeys<ConvertFileOptions> = {
  ...CONVERT_OPTION_KEYS,
  ...OPEN_MODEL_OPTION_KEYS,
  onProgress: true,
  force: true,
};

/** What a conversion to a file or sink did. */
export interface ConvertFileResult {
  /** The plan that was carried out, one entry per tensor. */
  plan: TensorPlan[];
  /** Total size of the input file(s). */
  inputBytes: number;
  /** Size of the output. */
  outputBytes: number;
  /** Number of input files (more than one for a split model). */
  parts: number;
  /** Bits per weight in and out, and the relative error measured on the output. */
  summary: ConversionSummary;
  /** Where the time went: preparing, converting, waiting on writes, committing. */
  phases: WritePhases;
}

/** A part's size: the file's, or for a stream the bytes up to the end of its last tensor. */
function inputSize(part: GgufPart): number {
  if (part.source.kind !== "stream") return part.source.size;
  return part.header.tensors.reduce(
    (end, t) => Math.max(end, t.fileOffset + t.nbytes),
    part.header.headerSize,
  );
}

/**
 * Converts an open model into the sink `openSink` returns: plans (refusals first),
 * computes the header, reports warnings, and only then opens the sink; streams the
 * conversion, committing on success and aborting the sink on any failure.
 *
 * @param model An open model (a file, a split model or a stream).
 * @param openSink Opens the output once the plan is known and accepted.
 * @param options Policy, chunk size, signal, progress, warnings.
 * @returns The plan and the sizes.
 * @throws {GgufError} What planning, the sink or the conversion raise; `ABORTED`, with the
 *   signal's reason as its `cause`, when the signal fires.
 *
 * @example Into memory
 * ```ts
 * import { openGgufModel } from "gguf-stream/sources";
 * import { writeConvertedModel } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * let size = 0;
 * const sink = {
 *   write: (chunk: Uint8Array) => Promise.resolve(void (size += chunk.length)),
 *   commit: () => Promise.resolve(),
 *   abort: () => Promise.resolve(),
 * };
 * const result = await writeConvertedModel(model, () => Promise.resolve(sink));
 * assert.equal(size, result.outputBytes);
 * await model.close();
 * ```
 */
export async function writeConvertedModel(
  model: GgufModel,
  openSink: (plan: TensorPlan[]) => Promise<ByteSink>,
  options: WriteOptions = {},
): Promise<ConvertFileResult> {
  let clock = performance.now();
  /** Seconds since the last call. */
  const lap = () => {
    const now = performance.now();
    const seconds = (now - clock) / 1000;
    clock = now;
    return seconds;
  };
  const conversion = await prepareMeasuredConversion(model, options, true);
  const sums: ConversionSums = { error: 0, reference: 0 };
  const header = conversion.header!;
  const sink = await openSink(conversion.plan);
  let summary: ConversionSummary;
  const phases: WritePhases = {
    preparing: lap(),
    converting: 0,
    waitingOnWrites: 0,
    committing: 0,
  };
  try {
    let bytesWritten = 0;
    // Each chunk is written while the next is made (a chunk stays valid until the second
    // after it is asked for): the sink's writes run beside the conversion.
    const chunks = encodeConverted(model, conversion, {
      ...options,
      alternate: true,
      sums,
      stepBytes: sink.chunkBytes,
    });
    let writing: Promise<void> | undefined;
    try {
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        phases.converting += lap();
        // (A write can wait for ever on a reader that takes nothing; an abort may not.)
        await untilAborted(writing, options.signal);
        phases.waitingOnWrites += lap();
        const chunk = next.value;
        writing = sink.write(chunk).then(() => {
          bytesWritten += chunk.length;
          options.onProgress?.({ bytesWritten, totalBytes: header.fileSize });
        });
        // A failure surfaces at the next await of `writing`, not as an unhandled rejection.
        writing.catch(() => {});
      }
      phases.converting += lap();
      await untilAborted(writing, options.signal);
      phases.waitingOnWrites += lap();
    } finally {
      await chunks.return(undefined);
    }
    if (bytesWritten !== header.fileSize) {
      throw new GgufError(
        "IO",
        `Wrote ${formatInteger(bytesWritten)} bytes, expected ${formatInteger(header.fileSize)}`,
      );
    }
    // Before the commit: a callback that throws leaves the output path as it was.
    summary = conversionSummary(conversion.plan, sums);
    options.onSummary?.(summary);
    options.signal?.throwIfAborted();
    await sink.commit();
    phases.committing = lap();
    const detail = sink.phases?.();
    if (detail !== undefined) phases.sink = detail;
  } catch (error) {
    try {
      await sink.abort();
    } catch (leftover) {
      // The first failure is the one to report; a temporary left behind is said beside it.
      (options.onWarning ?? printWarning)((leftover as Error).message);
    }
    throw abortedError(error, options.signal);
  }
  const inputBytes = model.parts.reduce((sum, part) => sum + inputSize(part), 0);
  return {
    plan: conversion.plan,
    inputBytes,
    outputBytes: header.fileSize,
    parts: model.parts.length,
    summary,
    phases,
  };
}

/**
 * Converts a GGUF model to a new GGUF v3 file: same metadata (less `split.*` keys when
 * joining a split model; `general.file_type` describing the output), same tensors in the
 * same order, each as the policy says, the input's alignment. Memory stays bounded by a
 * few chunk buffers whatever the model's size.
 *
 * @param input The model's path or `http(s):` URL (the first part of a split model); a URL
 *   is fetched in one request and read once (`remote: "stream"`, the default here).
 * @param output The output path; written through a temporary file and a rename.
 * @param options Policy, chunk size, `force`, an abort signal and a progress callback.
 * @returns The plan and the sizes.
 * @throws {GgufError} For invalid input, `OUTPUT_EXISTS`, `SAME_FILE`, `IO`, or `ABORTED`
 *   (the signal's reason as its `cause`) when the signal fires; in every case the output
 *   path is left as it was.
 *
 * @example
 * ```ts
 * import { convertFile, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * const dir = mkdtempSync(`${tmpdir()}/gguf-`);
 * const out = `${dir}/tiny.converted.gguf`;
 * const sample = new URL("../../samples/tiny-llama.gguf", import.meta.url);
 * const result = await convertFile(sample, out, { policy: { requantize: "Q8_0" } });
 * const written = await readGguf(out);
 * assert.equal(written.tensors.length, result.plan.length);
 * assert.equal(written.tensors[2].typeName, "Q8_0"); // was Q4_K
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function convertFile(
  input: string | URL,
  output: string | URL,
  options: ConvertFileOptions = {},
): Promise<ConvertFileResult> {
  checkOptionKeys(options, CONVERT_FILE_OPTION_KEYS, "convertFile()");
  // The output is checked before any byte of the input is read (again once the parts are known).
  checkOutputPath(output, { force: options.force, inputs: remoteUrl(input) ? [] : [input] });
  const model = await openGgufModel(input, { ...options, remote: options.remote ?? "stream" });
  try {
    const inputs = model.parts.flatMap((part) => (part.path === undefined ? [] : [part.path]));
    const onWarning = options.onWarning ?? printWarning;
    return await writeConvertedModel(
      model,
      () => openFileSink(output, { force: options.force, inputs, onWarning }),
      options,
    );
  } finally {
    await model.close();
  }
}

/**
 * File-to-file conversion: a GGUF v3 file streamed tensor by tensor and chunk by chunk
 * through reused buffers, written to a temporary file and renamed into place when done.
 *
 * @module
 */
import type { ConvertOptions } from "./memory.ts";
import { convertedHeader, encodeConverted } from "./encode_model.ts";
import type { EncodedGgufHeader } from "./encode_header.ts";
import { GgufError } from "../model/errors.ts";
import { type GgufModel, type GgufPart, openGgufModel } from "../open/open_model.ts";
import {
  fallbackWarnings,
  planConversion,
  printWarning,
  type TensorPlan,
} from "../convert/plan.ts";
import { openFileSink } from "../source/file_sink.ts";

/** Progress of a file conversion. */
export interface ConvertProgress {
  /** Output bytes written so far. */
  bytesWritten: number;
  /** The output's final size. */
  totalBytes: number;
}

/** Options for {@linkcode convertFile}. */
export interface ConvertFileOptions extends Omit<ConvertOptions, "onWarning"> {
  /** Replace an existing output file (default: refuse with `OUTPUT_EXISTS`). */
  force?: boolean;
  /** Stops the conversion; the output is not written and the temporary is removed. */
  signal?: AbortSignal;
  /** Called after each chunk is written. */
  onProgress?: (progress: ConvertProgress) => void;
  /** Receives one message per type passed through because no rule covers it (default: stderr). */
  onWarning?: (message: string) => void;
}

/** What a file conversion did. */
export interface ConvertFileResult {
  /** The plan that was carried out, one entry per tensor. */
  plan: TensorPlan[];
  /** Total size of the input file(s). */
  inputBytes: number;
  /** Size of the output file. */
  outputBytes: number;
  /** Number of input files (more than one for a split model). */
  parts: number;
}

/** Where converted bytes go: written in order, then committed, or aborted on failure. */
export interface ByteSink {
  /** Appends bytes; the chunk may be reused once this resolves. */
  write(bytes: Uint8Array): Promise<void>;
  /** Completes the output (e.g. renames a temporary file into place). */
  commit(): Promise<void>;
  /** Discards everything written; called on any failure. */
  abort(): Promise<void>;
}

/**
 * Streams an open model's conversion into a sink, committing on success and aborting
 * it on any failure (a read error, a write error, the signal).
 *
 * @param model The open model.
 * @param plan Its plan from {@linkcode planConversion}.
 * @param sink Where the bytes go.
 * @param options Chunk size, signal, progress, and the header from {@linkcode convertedHeader}.
 * @throws {GgufError} What the reads or writes raise, or `ABORTED` when the signal fires.
 *
 * @example Into memory
 * ```ts
 * import { convertedHeader, openGgufModel, planConversion, writeConverted } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const plan = planConversion(model);
 * const chunks: Uint8Array[] = [];
 * const sink = {
 *   write: (chunk: Uint8Array) => Promise.resolve(void chunks.push(chunk.slice())),
 *   commit: () => Promise.resolve(),
 *   abort: () => Promise.resolve(),
 * };
 * const header = convertedHeader(model, plan);
 * await writeConverted(model, plan, sink, { header });
 * assert.equal(chunks.reduce((n, c) => n + c.length, 0), header.fileSize);
 * await model.close();
 * ```
 */
export async function writeConverted(
  model: GgufModel,
  plan: TensorPlan[],
  sink: ByteSink,
  options: Pick<ConvertFileOptions, "chunkBytes" | "signal" | "onProgress"> & {
    header: EncodedGgufHeader;
  },
): Promise<void> {
  const { header } = options;
  try {
    let bytesWritten = 0;
    for await (
      const chunk of encodeConverted(model, plan, header, {
        chunkBytes: options.chunkBytes,
        signal: options.signal,
      })
    ) {
      await sink.write(chunk);
      bytesWritten += chunk.length;
      options.onProgress?.({ bytesWritten, totalBytes: header.fileSize });
    }
    if (bytesWritten !== header.fileSize) {
      throw new GgufError("IO", `Wrote ${bytesWritten} bytes, expected ${header.fileSize}`);
    }
    options.signal?.throwIfAborted();
    await sink.commit();
  } catch (error) {
    await sink.abort();
    if (options.signal?.aborted && !(error instanceof GgufError)) {
      throw new GgufError(
        "ABORTED",
        "Conversion interrupted; the output was not written",
        undefined,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
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
 * Converts an open model into the sink `openSink` returns: plans (refusals come first),
 * opens the sink (so output problems come before warnings), reports uncovered types,
 * then streams the conversion, committing on success and aborting on failure.
 *
 * @param model An open model (a file, a split model or a stream).
 * @param openSink Opens the output once the plan is known.
 * @param options Policy, chunk size, signal, progress, warnings.
 * @returns The plan and the sizes.
 * @throws {GgufError} What planning, the sink or the conversion raise.
 *
 * @example
 * ```ts
 * import { convertModelTo, openGgufModel } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * let size = 0;
 * const sink = {
 *   write: (chunk: Uint8Array) => Promise.resolve(void (size += chunk.length)),
 *   commit: () => Promise.resolve(),
 *   abort: () => Promise.resolve(),
 * };
 * const result = await convertModelTo(model, () => Promise.resolve(sink));
 * assert.equal(size, result.outputBytes);
 * await model.close();
 * ```
 */
export async function convertModelTo(
  model: GgufModel,
  openSink: (plan: TensorPlan[]) => Promise<ByteSink>,
  options: Omit<ConvertFileOptions, "force"> = {},
): Promise<ConvertFileResult> {
  const plan = planConversion(model, options.policy);
  const header = convertedHeader(model, plan);
  const sink = await openSink(plan);
  for (const message of fallbackWarnings(plan)) (options.onWarning ?? printWarning)(message);
  await writeConverted(model, plan, sink, { ...options, header });
  const inputBytes = model.parts.reduce((sum, part) => sum + inputSize(part), 0);
  return { plan, inputBytes, outputBytes: header.fileSize, parts: model.parts.length };
}

/**
 * Converts a GGUF model to a new GGUF v3 file: same metadata (less `split.*` keys when
 * joining a split model), same tensors in the same order, dequantized tensors as F32,
 * views as their packed bytes, pass-through bytes unchanged, the input's alignment.
 * Memory stays bounded by a few chunk buffers whatever the model's size.
 *
 * @param input The model's path (the first part of a split model).
 * @param output The output path; written through a temporary file and a rename.
 * @param options Policy, chunk size, `force`, an abort signal and a progress callback.
 * @returns The plan and the sizes.
 * @throws {GgufError} For invalid input, `OUTPUT_EXISTS`, `SAME_FILE`, `IO`, or `ABORTED`
 *   when the signal fires; in every case the output path is left as it was.
 *
 * @example
 * ```ts
 * import { convertFile, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const out = (await Deno.makeTempDir()) + "/tiny.converted.gguf";
 * const result = await convertFile(new URL("../../samples/tiny-llama.gguf", import.meta.url), out);
 * const written = await readGguf(out);
 * assert.equal(written.tensors.length, result.plan.length);
 * assert.equal(written.tensors[1].typeName, "F32");
 * await Deno.remove(out);
 * ```
 */
export async function convertFile(
  input: string | URL,
  output: string | URL,
  options: ConvertFileOptions = {},
): Promise<ConvertFileResult> {
  const model = await openGgufModel(input, options);
  try {
    const inputs = model.parts.flatMap((part) => (part.path === undefined ? [] : [part.path]));
    return await convertModelTo(
      model,
      () => openFileSink(output, { force: options.force, inputs }),
      options,
    );
  } finally {
    await model.close();
  }
}

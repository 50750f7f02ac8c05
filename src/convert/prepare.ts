/**
 * One preparation for every output: plan the conversion (refusals first), compute the
 * converted file's header when one will be written, then report the plan's warnings —
 * in that order, before any output is opened.
 *
 * @module
 */
import type { ConversionPolicy, ConversionSummary, TensorPlan } from "../model/conversion.ts";
import { GgufError } from "../model/errors.ts";
import type { OptionKeys } from "../model/option_keys.ts";
import { requireGgmlType } from "../model/ggml_type.ts";
import { type GgufMetadataEntry, GgufValueType, INTEGER_VALUE_TYPES } from "../model/gguf_file.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { type EncodedGgufHeader, encodeGgufHeader } from "../format/encode_header.ts";
import { chooseAutoTypes } from "./choose_auto.ts";
import { printWarning } from "./print_warning.ts";
import { type ConversionSums, relativeRms } from "./convert_range.ts";
import { conversionWarnings, planConversion } from "./plan.ts";
import { type ResolvedPolicy, resolvePolicy } from "./policy.ts";
import { checkChunkBytes } from "./tensor_chunks.ts";
import { checkThreads } from "./convert_threads.ts";
import { transcoderOf } from "./transcode/transcoders.ts";

/** What every conversion takes. */
export interface ConvertOptions {
  /** The target, requantization and overrides (default: target Q4_0, Q8_0, F32). */
  policy?: ConversionPolicy;
  /** Receives each warning of the plan (default: `warning: …` on stderr). */
  onWarning?: (message: string) => void;
  /** Input bytes read per step (default 1 MiB). */
  chunkBytes?: number;
  /**
   * Threads converting, this one included. Default: for a conversion of at least 16 Mi
   * values, every core the runtime reports — less one for a file or stream output that
   * only dequantizes (its writes take a core) — and 1 for smaller conversions, or where
   * there are no worker threads or no `SharedArrayBuffer`. Output bytes are the same for
   * any number (from 1 to 1024). Tensors converted in memory are ordinary `ArrayBuffer`s
   * whatever the number.
   */
  threads?: number;
  /** Stops the conversion between chunks with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Receives the conversion's summary (bits per weight in and out, the relative error
   * measured on the output) once the last tensor is converted (a file output is not yet
   * renamed into place then: a callback that throws leaves it as it was).
   */
  onSummary?: (summary: ConversionSummary) => void;
}

/** Every key of {@linkcode ConvertOptions}, for option checks. */
export const CONVERT_OPTION_KEYS: OptionKeys<ConvertOptions> = {
  policy: true,
  onWarning: true,
  chunkBytes: true,
  threads: true,
  signal: true,
  onSummary: true,
};

/** A conversion ready to run. */
export interface PreparedConversion {
  /** One entry per tensor, in order. */
  plan: TensorPlan[];
  /** The checked chunk size. */
  chunkBytes: number;
  /** The checked number of threads (1 or more). */
  threads: number;
  /** The converted file's header, when asked for. */
  header: EncodedGgufHeader | undefined;
}

/**
 * Plans a model's conversion, computes the output header if `withHeader`, and reports
 * the warnings, in that order: a refusal comes before any warning, and a throwing
 * `onWarning` stops everything before any output exists.
 *
 * @param model An open model.
 * @param options Policy, warnings, chunk size.
 * @param withHeader Whether a GGUF file will be written (file and stream outputs).
 * @returns The plan, the chunk size and the header.
 * @throws {TypeError} For bad options, and for `requantize: "auto"`, which measures the
 *   tensors first: use {@linkcode prepareMeasuredConversion} for it.
 * @throws {GgufError} What planning raises; `UNSUPPORTED_BYTE_ORDER` when kept blocks of a
 *   big-endian file would be copied into the little-endian output.
 *
 * @example
 * ```ts
 * import { openGgufModel } from "gguf-stream/sources";
 * import { prepareConversion } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const { plan, header } = prepareConversion(model, {}, true);
 * assert.equal(plan.length, 21);
 * assert.equal(header!.offsets.length, 21);
 * await model.close();
 * ```
 */
export function prepareConversion(
  model: GgufModel,
  options: ConvertOptions = {},
  withHeader = false,
): PreparedConversion {
  const { chunkBytes, policy, plan } = planFor(model, options);
  if (plan.some((entry) => entry.auto)) {
    throw new TypeError(
      'requantize "auto" measures the tensors first: use prepareMeasuredConversion()',
    );
  }
  return finish(model, options, withHeader, chunkBytes, policy, plan);
}

/**
 * {@linkcode prepareConversion} for every policy, `requantize: "auto"` included: its
 * tensors are measured (or chosen by rule, for a one-pass stream) before the header is
 * computed. The outputs all prepare through this.
 *
 * @param model An open model.
 * @param options Policy, warnings, chunk size.
 * @param withHeader Whether a GGUF file will be written (file and stream outputs).
 * @returns The plan, the chunk size and the header.
 * @throws {TypeError} For bad options.
 * @throws {GgufError} What planning and reading raise.
 *
 * @example
 * ```ts
 * import { openGgufModel } from "gguf-stream/sources";
 * import { prepareMeasuredConversion } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const policy = { requantize: "auto" as const };
 * const { plan } = await prepareMeasuredConversion(model, { policy }, true);
 * assert.ok(plan.every((p) => p.error === undefined || p.error <= 0.01 || p.typeName === "F32"));
 * await model.close();
 * ```
 */
export async function prepareMeasuredConversion(
  model: GgufModel,
  options: ConvertOptions = {},
  withHeader = false,
): Promise<PreparedConversion> {
  const { chunkBytes, policy, plan } = planFor(model, options);
  await chooseAutoTypes(model, plan, policy, { chunkBytes, signal: options.signal });
  return finish(model, options, withHeader, chunkBytes, policy, plan);
}

function planFor(model: GgufModel, options: ConvertOptions) {
  const chunkBytes = checkChunkBytes(options.chunkBytes);
  if (options.threads !== undefined) checkThreads(options.threads, 0); // bad options first
  const policy = resolvePolicy(options.policy);
  return { chunkBytes, policy, plan: planConversion(model, policy) };
}

function finish(
  model: GgufModel,
  options: ConvertOptions,
  withHeader: boolean,
  chunkBytes: number,
  policy: ResolvedPolicy,
  plan: TensorPlan[],
): PreparedConversion {
  const work = plan.reduce((sum, p) => sum + (p.action === "keep" ? 0 : p.info.elements), 0);
  // Written out as float32, the output is several times the input: one core goes to the
  // writes, which run beside the conversion, unless requantizing, where conversion is the
  // larger part.
  const writeBound = withHeader && !plan.some((p) => p.action === "requantize");
  const threads = checkThreads(options.threads, work, writeBound ? 1 : 0);
  const header = withHeader ? convertedHeader(model, plan) : undefined;
  const warnings = conversionWarnings(plan, policy);
  if (options.threads !== undefined && options.threads > 1 && threads === 1) {
    // Asked for, not silently dropped.
    warnings.push(
      `${options.threads} threads were asked for, but worker threads cannot start here (under Deno they need read access to this package's modules: --allow-read); converting on one thread`,
    );
  }
  for (const message of warnings) (options.onWarning ?? printWarning)(message);
  return { plan, chunkBytes, threads, header };
}

/**
 * A conversion's summary from its plan and the error sums its chunk loops measured.
 *
 * @param plan The plan carried out.
 * @param sums Σ(out − x)² and Σx² over every converted (not kept) weight.
 * @returns Bits per weight in and out, and the relative RMS error (`Infinity` when the
 *   output holds NaN or infinite values where the input's are finite).
 *
 * @example
 * ```ts
 * import { conversionSummary } from "gguf-stream/pipeline";
 * import type { TensorPlan } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const entry = { action: "requantize", nbytes: 34, info: { elements: 32, nbytes: 128 } };
 * const summary = conversionSummary([entry as TensorPlan], { error: 1, reference: 100 });
 * assert.equal(summary.bitsPerWeightIn, 32);
 * assert.equal(summary.bitsPerWeightOut, 8.5);
 * assert.equal(summary.relativeError, 0.1);
 * ```
 */
export function conversionSummary(
  plan: readonly TensorPlan[],
  sums: ConversionSums,
): ConversionSummary {
  let weights = 0;
  let converted = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  for (const entry of plan) {
    weights += entry.info.elements;
    bytesIn += entry.info.nbytes;
    bytesOut += entry.nbytes;
    if (entry.action !== "keep") converted += entry.info.elements;
  }
  return {
    weights,
    bitsPerWeightIn: weights === 0 ? 0 : (bytesIn * 8) / weights,
    bitsPerWeightOut: weights === 0 ? 0 : (bytesOut * 8) / weights,
    convertedWeights: converted,
    relativeError: relativeRms(sums),
    ...(sums.largest !== undefined ? { largestError: { ...sums.largest } } : {}),
  };
}

/**
 * Whether a plan changes no value: every tensor kept, dequantized to F32 or transcoded
 * losslessly. Its relative error is exactly 0, so the chunk loops need not measure it
 * (summing Σx² over every value of a large model costs as much as converting it).
 *
 * @param plan The plan.
 * @returns `true` when no tensor's values change.
 *
 * @example
 * ```ts
 * import { exactPlan } from "./prepare.ts";
 * import { planConversion, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const header = await readGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * assert.equal(exactPlan(planConversion(header, { target: ["F32"] })), true);
 * assert.equal(exactPlan(planConversion(header, { requantize: "Q4_0" })), false);
 * ```
 */
export function exactPlan(plan: readonly TensorPlan[]): boolean {
  return plan.every((entry) =>
    entry.action === "keep" || entry.action === "dequantize" ||
    (entry.action === "transcode" && transcoderOf(entry.info.type, entry.type)?.lossless === true)
  );
}

/**
 * llama.cpp's `llama_ftype` for a file whose weights are mostly of one type (as its model
 * loader guesses it): K-quants map to their `_M` variants.
 */
const FILE_TYPES: Readonly<Record<string, number>> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 7,
  Q5_0: 8,
  Q5_1: 9,
  Q2_K: 10,
  Q3_K: 12,
  Q4_K: 15,
  Q5_K: 17,
  Q6_K: 18,
  IQ2_XXS: 19,
  IQ2_XS: 20,
  IQ3_XXS: 23,
  IQ1_S: 24,
  IQ4_NL: 25,
  IQ3_S: 26,
  IQ2_S: 28,
  IQ4_XS: 30,
  IQ1_M: 31,
  BF16: 32,
  TQ1_0: 36,
  TQ2_0: 37,
  MXFP4: 38,
  NVFP4: 39,
  Q1_0: 40,
  Q2_0: 41,
};

/**
 * The output's `general.file_type`: 0 when every tensor is F32, otherwise the file type of
 * the non-F32 type holding the most weights; `undefined` to keep the input's value (no
 * tensors, or a type llama.cpp names no file type for).
 *
 * @param plan A plan from {@linkcode planConversion}.
 * @returns The file type, or `undefined`.
 *
 * @example
 * ```ts
 * import { outputFileType } from "./prepare.ts";
 * import type { TensorPlan } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const entry = (typeName: string, elements: number) =>
 *   ({ typeName, info: { elements } }) as unknown as TensorPlan;
 * assert.equal(outputFileType([entry("F32", 10)]), 0);
 * assert.equal(outputFileType([entry("F32", 10), entry("Q8_0", 64), entry("Q4_0", 32)]), 7);
 * assert.equal(outputFileType([entry("Q2_0", 64)]), 41); // LLAMA_FTYPE_MOSTLY_Q2_0
 * ```
 */
export function outputFileType(plan: readonly TensorPlan[]): number | undefined {
  const weights = new Map<string, number>();
  for (const entry of plan) {
    if (entry.typeName !== "F32") {
      weights.set(entry.typeName, (weights.get(entry.typeName) ?? 0) + entry.info.elements);
    }
  }
  if (plan.length === 0) return undefined;
  if (weights.size === 0) return FILE_TYPES.F32;
  let most: string | undefined;
  for (const [type, count] of weights) {
    if (most === undefined || count > weights.get(most)!) most = type;
  }
  return FILE_TYPES[most!];
}

/**
 * Computes the converted file's header: the model's metadata (with `general.file_type`
 * describing the output), every tensor with its output type and size, the first part's
 * alignment.
 *
 * @param model The model being converted.
 * @param plan Its plan.
 * @returns The header bytes, tensor offsets and the output file's size.
 * @throws {GgufError} `UNSUPPORTED_BYTE_ORDER` when kept blocks of a big-endian file
 *   would be copied into the little-endian output.
 *
 * @example
 * ```ts
 * import { convertedHeader } from "gguf-stream/pipeline";
 * import { openGgufModel } from "gguf-stream/sources";
 * import { planConversion } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const header = convertedHeader(model, planConversion(model));
 * assert.equal(header.offsets.length, 21);
 * await model.close();
 * ```
 */
export function convertedHeader(
  model: GgufModel,
  plan: readonly TensorPlan[],
): EncodedGgufHeader {
  plan.forEach((entry, i) => {
    const littleEndian = model.parts[model.tensorParts[i]].header.littleEndian;
    if (
      !littleEndian && entry.action === "keep" && entry.typeName !== "F32" &&
      requireGgmlType(entry.type).bytesPerBlock > 1
    ) {
      throw new GgufError(
        "UNSUPPORTED_BYTE_ORDER",
        `Cannot write tensor "${entry.info.name}": its ${entry.info.typeName} bytes are big-endian and the output is little-endian (dequantize it instead)`,
        entry.info.indexOffset,
      );
    }
  });
  const fileType = outputFileType(plan);
  const alignment = model.parts[0].header.alignment;
  const metadata = [...model.metadata.values()].map((entry): GgufMetadataEntry => {
    // Written as ggml reads it (a lenient input may have stored it as another type).
    if (entry.key === "general.alignment") {
      return { ...entry, type: GgufValueType.UINT32, value: alignment };
    }
    if (entry.key !== "general.file_type" || fileType === undefined) return entry;
    if (!INTEGER_VALUE_TYPES.has(entry.type)) return entry;
    return { ...entry, value: fileType };
  });
  return encodeGgufHeader({
    alignment,
    metadata,
    tensors: plan.map((entry) => ({
      name: entry.info.name,
      shape: entry.info.shape,
      type: entry.type,
      nbytes: entry.nbytes,
    })),
  });
}

/**
 * `requantize: "auto"`: for each tensor the plan left to it, the cheapest type of the
 * target within the error budget — measured on the tensor's own values where the input can
 * be read twice, chosen by a rule per source type where it cannot (a one-pass stream).
 *
 * @module
 */
import type { TensorPlan } from "../model/conversion.ts";
import { bytesFor, type GgmlTypeName, requireGgmlType } from "../model/ggml_type.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { type RangeSums, relativeRms } from "./convert_range.ts";
import { AUTO_BY_RULE } from "./plan.ts";
import { actionInto, autoCandidates, bitsPerWeight, type ResolvedPolicy } from "./policy.ts";
import { type ChunkScratch, convertTensorChunks } from "./tensor_chunks.ts";
import { transcoderOf } from "./transcode/transcoders.ts";

/** Options for {@linkcode chooseAutoTypes}. */
export interface ChooseAutoOptions {
  /** Input bytes read per step. */
  chunkBytes: number;
  /** Stops the measuring between chunks. */
  signal?: AbortSignal;
}

/** Sets a plan entry's output type, action and size. */
function setOutput(entry: TensorPlan, typeName: GgmlTypeName, policy: ResolvedPolicy): void {
  const out = requireGgmlType(typeName);
  entry.type = out.id;
  entry.typeName = out.name;
  entry.nbytes = bytesFor(out, entry.info.elements);
  // Blocks running across rows (lenient inputs) are never kept nor transcoded.
  const crossRow = entry.info.shape[0] % requireGgmlType(entry.info.type).blockSize !== 0;
  entry.action = typeName === "F32"
    ? (entry.info.typeName === "F32" ? "keep" : "dequantize")
    : crossRow
    ? "requantize"
    : actionInto(entry.info.typeName, typeName, policy.method);
}

const percent = (value: number) =>
  Number.isFinite(value) ? `${(value * 100).toPrecision(3)} %` : "unbounded";

/**
 * The relative RMS error of converting one tensor as `entry` says, on its own values.
 *
 * @param model The model holding it.
 * @param index The tensor's index.
 * @param entry The plan entry to try.
 * @param options Chunk size and signal.
 * @param scratch Reused buffers.
 * @returns `sqrt(Σ(out − x)² / Σx²)`, 0 for an all-zero tensor.
 */
async function measure(
  model: GgufModel,
  index: number,
  entry: TensorPlan,
  options: ChooseAutoOptions,
  scratch: ChunkScratch,
): Promise<number> {
  const part = model.parts[model.tensorParts[index]];
  const sums: RangeSums = { error: 0, reference: 0 };
  const chunks = convertTensorChunks(part.source, part.header.littleEndian, entry, {
    chunkBytes: options.chunkBytes,
    scratch,
    signal: options.signal,
    sums,
  });
  for await (const _ of chunks) {
    // Only the sums are wanted.
  }
  return relativeRms(sums);
}

/** Type names in runs of equal bits per weight, keeping their order. */
function bySize(names: readonly GgmlTypeName[]): GgmlTypeName[][] {
  const groups: GgmlTypeName[][] = [];
  let size: number | undefined;
  for (const name of names) {
    const bits = bitsPerWeight(requireGgmlType(name));
    if (bits !== size) groups.push([]);
    size = bits;
    groups.at(-1)!.push(name);
  }
  return groups;
}

/**
 * The rule `auto` follows where the values cannot be measured before the header is written
 * (a one-pass stream input), per source type: the cheapest candidate a lossless transcoder
 * reaches from the source type (with `method: "best"`), else the candidate with the most
 * bits per weight (Q8_0 in most targets), else F32.
 *
 * @param entry A plan entry marked `auto`.
 * @param policy The resolved policy.
 * @returns The chosen type.
 */
function ruleChoice(entry: TensorPlan, policy: ResolvedPolicy): GgmlTypeName {
  const candidates = autoCandidates(entry.info.shape[0], policy.target);
  const source = requireGgmlType(entry.info.type);
  if (policy.method === "best") {
    const lossless = candidates.find((name) =>
      transcoderOf(source, requireGgmlType(name))?.lossless === true
    );
    if (lossless !== undefined) return lossless;
  }
  return candidates.at(-1) ?? "F32";
}

/**
 * Chooses the output type of every plan entry `requantize: "auto"` left open (marked
 * `auto`), in place. Where every part of the model can be read twice (files, bytes, URLs
 * read by range), each tensor is measured: its candidates (the target's quantizable types
 * that hold its rows, fewest bits per weight first) are tried in turn on its own values
 * — through the transcoder where the method is `best` and one exists, else ggml's
 * quantizer — and the first whose relative RMS error is at most `maxError` is chosen (of
 * types of the same size, such as Q4_0, Q4_K and IQ4_NL, the one with the least error);
 * if none is, the most accurate type of the target (F32 when in it). `entry.error` is then
 * the measured error. A one-pass stream cannot be read before its header is written: there
 * a rule per source type chooses instead (see the README), and `entry.error` is left out.
 *
 * @param model The open model.
 * @param plan Its plan (entries are changed in place).
 * @param policy The resolved policy the plan was made under.
 * @param options Chunk size and signal.
 * @returns Resolves when every entry is chosen.
 *
 * @example
 * ```ts
 * import { chooseAutoTypes } from "./choose_auto.ts";
 * import { openGgufModel } from "gguf-stream/sources";
 * import { planConversion } from "gguf-stream";
 * import { resolvePolicy } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const policy = resolvePolicy({ requantize: "auto", maxError: 0.05 });
 * const plan = planConversion(model, policy);
 * await chooseAutoTypes(model, plan, policy, { chunkBytes: 1 << 20 });
 * const q4k = plan.find((p) => p.info.typeName === "Q4_K")!;
 * assert.ok(q4k.error! <= 0.05);
 * await model.close();
 * ```
 */
export async function chooseAutoTypes(
  model: GgufModel,
  plan: TensorPlan[],
  policy: ResolvedPolicy,
  options: ChooseAutoOptions,
): Promise<void> {
  const measurable = model.parts.every((part) => part.source.kind !== "stream");
  const scratch: ChunkScratch = {};
  for (const [index, entry] of plan.entries()) {
    if (!entry.auto) continue;
    const why = entry.reason.replace(/; auto: not measured$/, "");
    if (!measurable) {
      setOutput(entry, ruleChoice(entry, policy), policy);
      entry.reason = `${why}; ${AUTO_BY_RULE}`;
      delete entry.error;
      continue;
    }
    const fallback = entry.typeName;
    let chosen: { typeName: GgmlTypeName; error: number } | undefined;
    let least: number | undefined;
    // Fewest bits first; of the types of one size (Q4_0, Q4_K and IQ4_NL; F16 and BF16),
    // every one is measured and the least error within the budget wins.
    for (const group of bySize(autoCandidates(entry.info.shape[0], policy.target))) {
      for (const typeName of group) {
        setOutput(entry, typeName, policy);
        const error = await measure(model, index, entry, options, scratch);
        if (error <= policy.maxError && (chosen === undefined || error < chosen.error)) {
          chosen = { typeName, error };
        }
        if (least === undefined || error < least) least = error;
      }
      if (chosen !== undefined) break;
    }
    if (chosen !== undefined) {
      setOutput(entry, chosen.typeName, policy);
      entry.error = chosen.error;
      entry.reason = `${why}; auto: ${percent(chosen.error)} ≤ ${percent(policy.maxError)}`;
      continue;
    }
    setOutput(entry, fallback, policy);
    entry.error = entry.action === "dequantize" || entry.action === "keep"
      ? 0
      : await measure(model, index, entry, options, scratch);
    entry.reason = `${why}; auto: no type within ${percent(policy.maxError)}${
      least === undefined ? "" : ` (least ${percent(least)})`
    }: the most accurate`;
  }
}

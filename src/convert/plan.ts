/**
 * The conversion plan: for every tensor, its strategy, output type and output size,
 * decided (and checked) before any tensor is converted.
 *
 * @module
 */
import { dequantizerOf } from "./kernels.ts";
import { GgufError } from "../model/errors.ts";
import { ggmlType } from "../model/ggml_type.ts";
import {
  chooseStrategy,
  type ConversionPolicy,
  normalizeTypeTable,
  type Strategy,
} from "./policy.ts";
import type { GgufModel } from "../open/open_model.ts";
import type { GgufFile, TensorInfo } from "../model/gguf_file.ts";

/** The kind of result a strategy gives for a type. */
export type OutputKind = "packed" | "float32" | "raw";

/** What will happen to one tensor. */
export interface TensorPlan {
  info: TensorInfo;
  strategy: Strategy;
  /** The result's kind. */
  kind: OutputKind;
  /** The output's ggml type name (`F32` for float32 results). */
  outputType: string;
  /** The output's ggml type id. */
  outputTypeId: number;
  /** The output's size in bytes. */
  outputBytes: number;
  /** `true` when the type is uncovered and passed through by the fallback (a warning). */
  fallback: boolean;
}

const F32_ID = 0;

/**
 * Plans the conversion of every tensor in a header under a policy. Refusals and
 * impossible requests are raised here, before any data is read or written.
 *
 * @param file A parsed header, or a model opened with {@linkcode openGgufModel}.
 * @param policy Changes to the default strategies.
 * @returns One entry per tensor, in file order.
 * @throws {GgufError} `REFUSED` for a tensor whose strategy is `error`; `UNSUPPORTED_TYPE`
 *   for `dequantize` on a type with no kernel; `UNSUPPORTED_BYTE_ORDER` for dequantizing
 *   quantized blocks of a big-endian file.
 *
 * @example
 * ```ts
 * import { planConversion, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * assert.deepEqual(planConversion(await readGguf(bytes)), []);
 * ```
 */
export function planConversion(
  file: GgufFile | GgufModel,
  policy: ConversionPolicy = {},
): TensorPlan[] {
  const table = normalizeTypeTable(policy.types);
  const littleEndian = (i: number) =>
    "parts" in file ? file.parts[file.tensorParts[i]].header.littleEndian : file.littleEndian;
  return file.tensors.map((info, i) => {
    const { strategy, fallback } = chooseStrategy(info, policy, table);
    const traits = ggmlType(info.type)!;
    if (strategy === "error") {
      throw new GgufError(
        "REFUSED",
        `Cannot convert tensor "${info.name}": the policy refuses ${info.typeName} tensors`,
        info.indexOffset,
      );
    }
    if (strategy === "dequantize" && !littleEndian(i) && !dequantizerOf(traits)!.endianAware) {
      throw new GgufError(
        "UNSUPPORTED_BYTE_ORDER",
        `Cannot dequantize tensor "${info.name}": ${info.typeName} blocks in a big-endian file are not supported`,
        info.indexOffset,
      );
    }
    const float32 = strategy === "dequantize" || info.type === F32_ID;
    if (float32) {
      return {
        info,
        strategy,
        kind: "float32",
        outputType: "F32",
        outputTypeId: F32_ID,
        outputBytes: info.elements * 4,
        fallback,
      };
    }
    return {
      info,
      strategy,
      kind: strategy === "view" ? "packed" : "raw",
      outputType: info.typeName,
      outputTypeId: info.type,
      outputBytes: info.nbytes,
      fallback,
    };
  });
}

/**
 * One message per type that no rule covers, with how many tensors pass through unchanged.
 *
 * @param plan A plan from {@linkcode planConversion}.
 * @returns The messages, one per type, in order of first appearance.
 *
 * @example
 * ```ts
 * import { fallbackWarnings, planConversion, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const file = await readGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * // Every type in the sample has a rule, so nothing falls back.
 * const plan = planConversion(file, { tensor: () => undefined });
 * assert.deepEqual(fallbackWarnings(plan), []);
 * ```
 */
export function fallbackWarnings(plan: TensorPlan[]): string[] {
  const counts = new Map<string, number>();
  for (const entry of plan) {
    if (entry.fallback) counts.set(entry.info.typeName, (counts.get(entry.info.typeName) ?? 0) + 1);
  }
  return [...counts].map(([type, count]) =>
    `${count} ${type} tensor${
      count === 1 ? "" : "s"
    } passed through unchanged: no rule covers ${type}`
  );
}

/** The default warning printer: one `warning: …` line on stderr. */
export function printWarning(message: string): void {
  console.warn(`warning: ${message}`);
}

/**
 * The per-tensor conversion policy: which tensors stay packed, which become float32,
 * which pass through, and which are refused.
 *
 * @module
 */
import { dequantizerOf } from "./kernels.ts";
import { GgufError } from "../model/errors.ts";
import { ggmlType } from "../model/ggml_type.ts";
import type { TensorInfo } from "../model/gguf_file.ts";

/**
 * What happens to one tensor:
 * - `view`: its packed bytes, zero-copy where the source can map them, tagged with its type;
 * - `dequantize`: a `Float32Array` computed bit for bit as ggml does;
 * - `passthrough`: its bytes unchanged (F32 as a `Float32Array`, a view where aligned);
 * - `error`: refuse with a `GgufError` (`REFUSED`).
 */
export type Strategy = "view" | "dequantize" | "passthrough" | "error";

/** Every strategy name, for argument checks. */
export const STRATEGIES: readonly Strategy[] = ["view", "dequantize", "passthrough", "error"];

/**
 * The default policy, for runtimes that take Q4_0, Q8_0 and F32: packed views for
 * Q4_0/Q8_0, float32 for the K-quants, F32 as is. Types not listed are passed through
 * with a warning (or refused with `unsupported: "error"`).
 */
export const DEFAULT_STRATEGIES: Readonly<Record<string, Strategy>> = Object.freeze({
  Q4_0: "view",
  Q8_0: "view",
  Q2_K: "dequantize",
  Q3_K: "dequantize",
  Q4_K: "dequantize",
  Q5_K: "dequantize",
  Q6_K: "dequantize",
  F32: "passthrough",
});

/** A caller's changes to the default policy. */
export interface ConversionPolicy {
  /** Strategies by type name (`"Q4_K"`, case-insensitive), over the defaults. */
  types?: Readonly<Record<string, Strategy>>;
  /** A strategy per tensor, over everything else; `undefined` keeps the type's. */
  tensor?: (tensor: TensorInfo) => Strategy | undefined;
  /** What to do with types no rule covers: `warn` (default, then pass through) or `error`. */
  unsupported?: "warn" | "error";
}

/** A tensor's strategy and whether it came from the unsupported-type fallback. */
export interface StrategyChoice {
  strategy: Strategy;
  /** `true` when no rule named this type and it is passed through by default. */
  fallback: boolean;
}

/** Normalizes and checks a policy's type table; unknown names or strategies are `TypeError`s. */
export function normalizeTypeTable(
  types: Readonly<Record<string, Strategy>> | undefined,
): Map<string, Strategy> {
  const table = new Map<string, Strategy>(Object.entries(DEFAULT_STRATEGIES));
  for (const [name, strategy] of Object.entries(types ?? {})) {
    const traits = ggmlType(name);
    if (traits === undefined) throw new TypeError(`Unknown ggml type "${name}" in the policy`);
    if (!STRATEGIES.includes(strategy)) {
      throw new TypeError(
        `Unknown strategy "${strategy}" for ${traits.name} (expected ${STRATEGIES.join(", ")})`,
      );
    }
    table.set(traits.name, strategy);
  }
  return table;
}

/**
 * Decides a tensor's strategy under a policy and checks it can be carried out.
 *
 * @param tensor The tensor's index entry.
 * @param policy The caller's changes to {@linkcode DEFAULT_STRATEGIES}.
 * @returns The strategy, and whether it is the unsupported-type fallback.
 * @throws {GgufError} `UNSUPPORTED_TYPE` for `dequantize` on a type with no kernel, or an
 *   uncovered type under `unsupported: "error"`.
 *
 * @example
 * ```ts
 * import { chooseStrategy, type TensorInfo } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const info = { name: "w", type: 12, typeName: "Q4_K" } as TensorInfo;
 * assert.equal(chooseStrategy(info).strategy, "dequantize");
 * assert.equal(chooseStrategy(info, { types: { Q4_K: "view" } }).strategy, "view");
 * ```
 */
export function chooseStrategy(
  tensor: TensorInfo,
  policy: ConversionPolicy = {},
  table: Map<string, Strategy> = normalizeTypeTable(policy.types),
): StrategyChoice {
  const own = policy.tensor?.(tensor);
  if (own !== undefined && !STRATEGIES.includes(own)) {
    throw new TypeError(`Unknown strategy "${own}" for tensor "${tensor.name}"`);
  }
  const chosen = own ?? table.get(tensor.typeName);
  if (chosen === undefined) {
    if (policy.unsupported === "error") {
      throw new GgufError(
        "UNSUPPORTED_TYPE",
        `Cannot convert tensor "${tensor.name}": no rule covers type ${tensor.typeName} (name a strategy for it, or allow pass-through)`,
        tensor.indexOffset,
      );
    }
    return { strategy: "passthrough", fallback: true };
  }
  if (chosen === "dequantize" && dequantizerOf(tensor.type) === undefined) {
    throw new GgufError(
      "UNSUPPORTED_TYPE",
      `Cannot dequantize tensor "${tensor.name}": gguf-stream has no ${tensor.typeName} kernel (use view or passthrough)`,
      tensor.indexOffset,
    );
  }
  return { strategy: chosen, fallback: false };
}

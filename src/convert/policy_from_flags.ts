/**
 * One way from text flags (command-line options, query parameters) to a policy, shared
 * by the CLI and the edge example so that they accept and refuse the same things.
 *
 * @module
 */
import type { ConversionPolicy, RequantizeType, TensorAction } from "../model/conversion.ts";
import { GGML_TYPES, ggmlType, type GgmlTypeName } from "../model/ggml_type.ts";
import { REQUANTIZE_TYPES, resolvePolicy } from "./policy.ts";

/** Policy flags as text, e.g. from `--target Q8_0,F32` or `?target=Q8_0,F32`. */
export interface PolicyFlags {
  /** Comma-separated target types (default `Q4_0,Q8_0,F32`). */
  target?: string;
  /** `Q8_0` or `Q4_0`: requantize instead of dequantizing to F32. */
  requantize?: string;
  /** Comma-separated types to keep as they are, whatever the target. */
  keep?: string;
  /** Comma-separated types to dequantize to F32, whatever the target. */
  dequantize?: string;
  /** `warn` (default) or `error`, for types outside the target with no kernel. */
  unsupported?: string;
}

function typeList(flag: string, value: string | undefined): GgmlTypeName[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((name) => name.trim()).filter((name) => name !== "");
  return names.map((name) => {
    const traits = ggmlType(name);
    if (traits === undefined) {
      throw new TypeError(
        `${flag}: unknown ggml type "${name}" (known: ${GGML_TYPES.map((t) => t.name).join(", ")})`,
      );
    }
    return traits.name;
  });
}

/**
 * Builds and checks a policy from text flags. `prefix` is put before flag names in
 * messages (`"--"` for a command line, `""` for query parameters).
 *
 * @param flags The flags' text values; absent ones keep the defaults.
 * @param prefix How flag names are written in messages.
 * @returns A checked policy.
 * @throws {TypeError} With a one-line message naming the flag: an unknown type, a type both
 *   kept and dequantized, a requantize type outside the target, an unknown mode.
 *
 * @example
 * ```ts
 * import { policyFromFlags } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const policy = policyFromFlags({ target: "q8_0,f32", requantize: "Q8_0", keep: "F16" });
 * assert.deepEqual(policy.target, ["Q8_0", "F32"]);
 * assert.deepEqual(policy.types, { F16: "keep" });
 * assert.throws(() => policyFromFlags({ keep: "F16", dequantize: "F16" }), TypeError);
 * ```
 */
export function policyFromFlags(flags: PolicyFlags, prefix = "--"): ConversionPolicy {
  const types: Record<string, TensorAction> = {};
  for (const name of typeList(`${prefix}keep`, flags.keep) ?? []) types[name] = "keep";
  for (const name of typeList(`${prefix}dequantize`, flags.dequantize) ?? []) {
    if (name in types) {
      throw new TypeError(`${name} is named by both ${prefix}keep and ${prefix}dequantize`);
    }
    types[name] = "dequantize";
  }
  const target = typeList(`${prefix}target`, flags.target);
  if (target !== undefined && target.length === 0) {
    throw new TypeError(`${prefix}target names no type (e.g. ${prefix}target Q8_0,F32)`);
  }
  let requantize: RequantizeType | undefined;
  if (flags.requantize !== undefined) {
    const name = ggmlType(flags.requantize.trim())?.name;
    if (!REQUANTIZE_TYPES.includes(name as RequantizeType)) {
      throw new TypeError(
        `${prefix}requantize must be ${REQUANTIZE_TYPES.join(" or ")}, not "${flags.requantize}"`,
      );
    }
    requantize = name as RequantizeType;
    if (target !== undefined && !target.includes(requantize)) {
      throw new TypeError(
        `${prefix}requantize ${requantize} is not in ${prefix}target ${target.join(",")}`,
      );
    }
  }
  const unsupported = flags.unsupported;
  if (unsupported !== undefined && unsupported !== "warn" && unsupported !== "error") {
    throw new TypeError(`${prefix}unsupported must be warn or error, not "${unsupported}"`);
  }
  const policy: ConversionPolicy = { types };
  if (target !== undefined) policy.target = target;
  if (requantize !== undefined) policy.requantize = requantize;
  if (unsupported !== undefined) policy.unsupported = unsupported;
  resolvePolicy(policy);
  return policy;
}

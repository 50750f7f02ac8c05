/**
 * One way from text flags (command-line options, query parameters) to a policy, shared
 * by the CLI and the edge example so that they accept and refuse the same things.
 *
 * @module
 */
import {
  type ConversionPolicy,
  DEFAULT_TARGET,
  type RequantizeType,
  type TensorAction,
} from "../model/conversion.ts";
import { GGML_TYPES, ggmlType, type GgmlTypeName } from "../model/ggml_type.ts";
import { quantizableTypes } from "../convert/kernels.ts";
import { resolvePolicy } from "../convert/policy.ts";
import { runtimeProfile } from "../convert/profiles.ts";

/** Policy flags as text, e.g. from `--target Q8_0,F32` or `?target=Q8_0,F32`. */
export interface PolicyFlags {
  /** Comma-separated target types (default `Q4_0,Q8_0,F32`). */
  target?: string;
  /**
   * A type to requantize into instead of dequantizing to F32 (any of `quantizableTypes()`),
   * or `auto` to choose per tensor within `maxError`.
   */
  requantize?: string;
  /** `best` (default: transcode where possible) or `reference` (ggml's quantizers only). */
  method?: string;
  /** For `requantize=auto`: the largest relative RMS error per tensor (default 0.01). */
  maxError?: string;
  /** A runtime profile (`candle`, `mlx`, `llama.cpp`, `q4q8`): sets the target. */
  for?: string;
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
 *   kept and dequantized, a requantize type outside the target, an unknown mode, method or
 *   profile, a bad error bound; and a flag that would change nothing (`maxError` without
 *   `requantize: auto` or `for`, `method` with nothing requantized).
 *
 * @example
 * ```ts
 * import { policyFromFlags } from "./policy_from_flags.ts";
 * import assert from "node:assert/strict";
 * const policy = policyFromFlags({ target: "q8_0,f32", requantize: "Q8_0", keep: "F16" });
 * assert.deepEqual(policy.target, ["Q8_0", "F32"]);
 * assert.deepEqual(policy.types, { F16: "keep" });
 * assert.throws(() => policyFromFlags({ keep: "F16", dequantize: "F16" }), TypeError);
 * assert.deepEqual(policyFromFlags({ for: "q4q8" }), { types: {}, profile: "q4q8" });
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
  const profile = flags.for === undefined ? undefined : runtimeProfile(flags.for);
  if (profile !== undefined && target !== undefined) {
    throw new TypeError(`${prefix}for ${profile.name} sets the target: drop ${prefix}target`);
  }
  let requantize: RequantizeType | "auto" | undefined;
  if (flags.requantize !== undefined) {
    const text = flags.requantize.trim();
    const name = text.toLowerCase() === "auto" ? "auto" : ggmlType(text)?.name;
    if (name === undefined || (name !== "auto" && !quantizableTypes().includes(name))) {
      throw new TypeError(
        `${prefix}requantize must be auto or one of ${
          quantizableTypes().join(", ")
        }, not "${flags.requantize}"`,
      );
    }
    requantize = name as RequantizeType | "auto";
    const types = target ?? profile?.types ?? DEFAULT_TARGET;
    if (requantize !== "auto" && !types.includes(requantize)) {
      throw new TypeError(
        profile !== undefined
          ? `${prefix}requantize ${requantize} is not among the types of ${prefix}for ${profile.name}: ${
            types.join(",")
          }`
          : `${prefix}requantize ${requantize} is not in the target ${types.join(",")}${
            target === undefined ? " (the default)" : ""
          }: add it (${prefix}target ${
            [...types, requantize].join(",")
          }) or name a runtime (${prefix}for)`,
      );
    }
  }
  // Flags that would do nothing are refused, as a typo would be: the user meant something.
  const auto = requantize === "auto" || (requantize === undefined && profile !== undefined);
  if (flags.maxError !== undefined && !auto) {
    throw new TypeError(
      `${prefix}max-error bounds the choice of ${prefix}requantize auto (or ${prefix}for RUNTIME)${
        requantize !== undefined ? `, not ${prefix}requantize ${requantize}` : ""
      }: give one of them, or drop ${prefix}max-error`,
    );
  }
  const method = flags.method?.trim().toLowerCase();
  if (method !== undefined && method !== "best" && method !== "reference") {
    throw new TypeError(`${prefix}method must be best or reference, not "${flags.method}"`);
  }
  if (method !== undefined && requantize === undefined && profile === undefined) {
    throw new TypeError(
      `${prefix}method chooses how ${prefix}requantize converts, and nothing is requantized: give ${prefix}requantize TYPE (or ${prefix}for RUNTIME), or drop ${prefix}method`,
    );
  }
  let maxError: number | undefined;
  if (flags.maxError !== undefined) {
    maxError = Number(flags.maxError.trim());
    if (flags.maxError.trim() === "" || !Number.isFinite(maxError) || maxError < 0) {
      throw new TypeError(
        `${prefix}max-error must be a number ≥ 0 (e.g. 0.01 for 1 %), not "${flags.maxError}"`,
      );
    }
  }
  const unsupported = flags.unsupported;
  if (unsupported !== undefined && unsupported !== "warn" && unsupported !== "error") {
    throw new TypeError(`${prefix}unsupported must be warn or error, not "${unsupported}"`);
  }
  const policy: ConversionPolicy = { types };
  if (target !== undefined) policy.target = target;
  if (profile !== undefined) policy.profile = profile.name;
  if (requantize !== undefined) policy.requantize = requantize;
  if (method !== undefined) policy.method = method;
  if (maxError !== undefined) policy.maxError = maxError;
  if (unsupported !== undefined) policy.unsupported = unsupported;
  resolvePolicy(policy);
  return policy;
}

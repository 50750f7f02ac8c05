/**
 * The policy's checks and its per-tensor decision: what happens to a tensor given the
 * target types, the requantization type, the overrides and the kernels gguf-stream has.
 *
 * @module
 */
import {
  type ConversionMethod,
  type ConversionPolicy,
  DEFAULT_TARGET,
  type PlannedAction,
  type RequantizeType,
  type TensorAction,
} from "../model/conversion.ts";
import { GgufError } from "../model/errors.ts";
import { checkOptionKeys, type OptionKeys } from "../model/option_keys.ts";
import { type GgmlTypeName, type GgmlTypeTraits, requireGgmlType } from "../model/ggml_type.ts";
import type { TensorInfo } from "../model/gguf_file.ts";
import { dequantizerOf, quantizableTypes, quantizerOf } from "./kernels.ts";
import { runtimeProfile } from "./profiles.ts";
import { transcoderOf } from "./transcode/transcoders.ts";

/** Every key of a {@linkcode ConversionPolicy}, for its check. */
const POLICY_KEYS: OptionKeys<ConversionPolicy> = {
  target: true,
  requantize: true,
  method: true,
  maxError: true,
  profile: true,
  types: true,
  tensor: true,
  unsupported: true,
};

/** Every action name, for argument checks. */
export const TENSOR_ACTIONS: readonly TensorAction[] = [
  "keep",
  "dequantize",
  "requantize",
  "refuse",
];

/**
 * The types a policy may name to requantize into (ggml's no-imatrix storage types); a build
 * refuses those it has no quantizer for (`quantizableTypes()` names the ones it has).
 */
export const REQUANTIZE_TYPES: readonly RequantizeType[] = [
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q8_0",
  "Q2_K",
  "Q3_K",
  "Q4_K",
  "Q5_K",
  "Q6_K",
  "IQ4_NL",
  "IQ4_XS",
  "MXFP4",
  "F16",
  "BF16",
];

/** The default `maxError` of `requantize: "auto"`: 1 % relative RMS error per tensor. */
export const DEFAULT_MAX_ERROR = 0.01;

/**
 * Where a tensor goes when its rows are not whole blocks of the chosen type: llama.cpp's own
 * fallback (`tensor_type_fallback` in src/llama-quant.cpp, as in the llama.cpp that
 * node-llama-cpp 3.22.1 bundles; for `n_per_row % block size != 0`).
 * When that type is not in the target or cannot hold the rows either, the next target type
 * by bits per weight above the chosen one that holds them; else F32 (F16 when the target
 * has F16 and not F32).
 */
export const ROW_FALLBACK: Readonly<Partial<Record<GgmlTypeName, GgmlTypeName>>> = Object
  .freeze({
    Q2_K: "Q4_0",
    Q3_K: "Q4_0",
    IQ4_XS: "IQ4_NL",
    Q4_K: "Q5_0",
    Q5_K: "Q5_1",
    Q6_K: "Q8_0",
  });

/** A policy checked once, with its names normalized. */
export interface ResolvedPolicy {
  /** The types kept as they are (the runtime loads them). */
  target: ReadonlySet<GgmlTypeName>;
  /**
   * The type other types are requantized into, `"auto"` to choose per tensor, or
   * `undefined` to dequantize to F32.
   */
  requantize: RequantizeType | "auto" | undefined;
  /** Transcode where a transcoder exists (`best`), or always use ggml's quantizers. */
  method: ConversionMethod;
  /** For `"auto"`: the largest relative RMS error per tensor. */
  maxError: number;
  /** Per-type actions that override the target. */
  types: ReadonlyMap<GgmlTypeName, TensorAction>;
  /** The per-tensor override, asked first. */
  tensor: ((tensor: TensorInfo) => TensorAction | undefined) | undefined;
  /** Types outside the target with no kernel: kept with a warning, or refused. */
  unsupported: "warn" | "error";
}

function checkAction(action: unknown, what: string): TensorAction {
  if (!TENSOR_ACTIONS.includes(action as TensorAction)) {
    throw new TypeError(
      `Unknown action ${JSON.stringify(action)} for ${what} (expected ${
        TENSOR_ACTIONS.join(", ")
      })`,
    );
  }
  return action as TensorAction;
}

/**
 * Checks a policy and normalizes its type names; a bad value is the caller's error.
 *
 * @param policy The caller's policy.
 * @returns The policy with defaults filled in.
 * @throws {TypeError} For an unknown key, type or action, or `requantize` outside the target.
 *
 * @example
 * ```ts
 * import { resolvePolicy } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...resolvePolicy({}).target], ["Q4_0", "Q8_0", "F32"]);
 * assert.throws(() => resolvePolicy({ target: ["F32"], requantize: "Q8_0" }), TypeError);
 * ```
 */
export function resolvePolicy(policy: ConversionPolicy = {}): ResolvedPolicy {
  checkOptionKeys(policy, POLICY_KEYS, "policy");
  let names = policy.target;
  if (names !== undefined && !Array.isArray(names)) {
    throw new TypeError(
      `policy.target must be an array of type names (e.g. ["Q8_0", "F32"]), not ${
        JSON.stringify(names)
      }`,
    );
  }
  const profile = policy.profile === undefined ? undefined : runtimeProfile(policy.profile);
  if (profile !== undefined) {
    if (names !== undefined) {
      throw new TypeError(`profile ${profile.name} sets the target: give one or the other`);
    }
    names = profile.types;
  }
  const target = new Set((names ?? DEFAULT_TARGET).map((t) => requireGgmlType(t).name));
  if (target.size === 0) throw new TypeError("The target names no type");
  const requantize = policy.requantize ?? (profile !== undefined ? "auto" : undefined);
  if (requantize !== undefined && requantize !== "auto") {
    const traits = REQUANTIZE_TYPES.includes(requantize) ? requireGgmlType(requantize) : undefined;
    if (traits === undefined || quantizerOf(traits) === undefined) {
      throw new TypeError(
        `Cannot requantize to ${JSON.stringify(requantize)}: gguf-stream requantizes to ${
          quantizableTypes().join(", ")
        } or auto`,
      );
    }
    if (!target.has(requantize)) {
      throw new TypeError(`requantize ${requantize} must be one of the target types`);
    }
  }
  const method = policy.method ?? "best";
  if (method !== "best" && method !== "reference") {
    throw new TypeError(`method must be "best" or "reference", not ${JSON.stringify(method)}`);
  }
  const maxError = policy.maxError ?? DEFAULT_MAX_ERROR;
  if (typeof maxError !== "number" || !(maxError >= 0) || !Number.isFinite(maxError)) {
    throw new TypeError(`maxError must be a finite number ≥ 0, not ${maxError}`);
  }
  const types = new Map<GgmlTypeName, TensorAction>();
  for (const [name, action] of Object.entries(policy.types ?? {})) {
    const traits = requireGgmlType(name);
    types.set(traits.name, checkAction(action, traits.name));
  }
  const unsupported = policy.unsupported ?? "warn";
  if (unsupported !== "warn" && unsupported !== "error") {
    throw new TypeError(
      `unsupported must be "warn" or "error", not ${JSON.stringify(unsupported)}`,
    );
  }
  return { target, requantize, method, maxError, types, tensor: policy.tensor, unsupported };
}

/** Bits per weight of a type (its block's bytes × 8 over its values). */
export function bitsPerWeight(type: GgmlTypeTraits): number {
  return (type.bytesPerBlock * 8) / type.blockSize;
}

/** Whether rows of `rowLength` values are whole blocks of `type` and it has a quantizer. */
function holds(type: GgmlTypeTraits, rowLength: number): boolean {
  return rowLength % type.blockSize === 0 && quantizerOf(type) !== undefined;
}

/** The target's quantizable types, fewest bits per weight first (then by type id). */
function quantizedTargets(target: ReadonlySet<GgmlTypeName>): GgmlTypeTraits[] {
  return [...target].map((name) => requireGgmlType(name))
    .filter((t) => t.name !== "F32" && quantizerOf(t) !== undefined)
    .sort((a, b) => bitsPerWeight(a) - bitsPerWeight(b) || a.id - b.id);
}

/**
 * The type a tensor with rows of `rowLength` values gets when `type` is asked for: `type`
 * itself when it holds the rows, else as {@linkcode ROW_FALLBACK} says.
 *
 * @param type The requested type's name.
 * @param rowLength The tensor's row length (`shape[0]`).
 * @param target The target's type names.
 * @returns The output type's name (F32 when no quantized type holds the rows).
 *
 * @example
 * ```ts
 * import { rowFallback } from "./policy.ts";
 * import assert from "node:assert/strict";
 * assert.equal(rowFallback("Q8_0", 4096, new Set(["Q8_0", "F32"])), "Q8_0");
 * assert.equal(rowFallback("Q8_0", 100, new Set(["Q8_0", "F32"])), "F32");
 * ```
 */
export function rowFallback(
  type: GgmlTypeName,
  rowLength: number,
  target: ReadonlySet<GgmlTypeName>,
): GgmlTypeName {
  const asked = requireGgmlType(type);
  if (holds(asked, rowLength)) return asked.name;
  const llama = ROW_FALLBACK[asked.name];
  if (llama !== undefined && target.has(llama) && holds(requireGgmlType(llama), rowLength)) {
    return llama;
  }
  const bits = bitsPerWeight(asked);
  const next = quantizedTargets(target).find((t) => bitsPerWeight(t) > bits && holds(t, rowLength));
  if (next !== undefined) return next.name;
  if (!target.has("F32") && target.has("F16") && holds(requireGgmlType("F16"), rowLength)) {
    return "F16";
  }
  return "F32";
}

/**
 * The types `requantize: "auto"` may choose for a tensor, cheapest first: the target's
 * quantizable types (F16 and BF16 included) that hold its rows, fewest bits per weight
 * first.
 *
 * @param rowLength The tensor's row length.
 * @param target The target's type names.
 * @returns The candidates' names.
 *
 * @example
 * ```ts
 * import { autoCandidates } from "./policy.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(autoCandidates(64, new Set(["Q8_0", "Q4_0", "F32"])), ["Q4_0", "Q8_0"]);
 * ```
 */
export function autoCandidates(
  rowLength: number,
  target: ReadonlySet<GgmlTypeName>,
): GgmlTypeName[] {
  return quantizedTargets(target).filter((t) => holds(t, rowLength)).map((t) => t.name);
}

/**
 * The most accurate type of the target for a tensor `auto` finds no type within its
 * budget for: F32 when in the target, else the target's quantizable type with the most bits
 * per weight that holds the rows, else F32.
 */
function mostAccurate(rowLength: number, target: ReadonlySet<GgmlTypeName>): GgmlTypeName {
  if (target.has("F32")) return "F32";
  return autoCandidates(rowLength, target).at(-1) ?? "F32";
}

/**
 * How a tensor of type `from` gets into `to` under a method: transcoded where a transcoder
 * exists and the method is `best`, else requantized (or kept, when the types are equal).
 *
 * @param from The source type.
 * @param to The output type (not F32).
 * @param method The policy's method.
 * @returns The action.
 *
 * @example
 * ```ts
 * import { actionInto } from "./policy.ts";
 * import assert from "node:assert/strict";
 * assert.equal(actionInto("Q4_K", "Q8_0", "reference"), "requantize");
 * ```
 */
export function actionInto(
  from: GgmlTypeName,
  to: GgmlTypeName,
  method: ConversionMethod,
): PlannedAction {
  if (from === to) return "keep";
  if (method === "best" && transcoderOf(requireGgmlType(from), requireGgmlType(to))) {
    return "transcode";
  }
  return "requantize";
}

/** The decision for one tensor, before its output size is computed. */
export interface TensorDecision {
  /** What is done to the tensor. */
  action: PlannedAction;
  /** The output's ggml type name. */
  typeName: GgmlTypeName;
  /** Why, in a few words: `in target`, `Q4_K not in target`, `no kernel for I32` … */
  reason: string;
  /** `true` when the tensor is kept only because its type has no kernel (a warning). */
  unsupported: boolean;
  /**
   * `true` when `requantize: "auto"` chooses its type: the decision holds the most accurate
   * type until `chooseAutoTypes` measures the candidates.
   */
  auto?: boolean;
}

/**
 * Decides what happens to one tensor.
 *
 * @param info The tensor's index entry.
 * @param policy A policy from {@linkcode resolvePolicy}.
 * @param littleEndian The byte order of the file holding it.
 * @returns The action, the output type and the reason.
 * @throws {GgufError} `REFUSED` when the policy refuses it; `UNSUPPORTED_TYPE` when a
 *   conversion is asked of a type with no kernel, or an unsupported type under
 *   `unsupported: "error"`; `UNSUPPORTED_BYTE_ORDER` for quantized blocks of a big-endian
 *   file that must be converted; `BAD_BLOCK_SIZE` for blocks running across rows
 *   (accepted by `lenient`) of a type with no kernel.
 *
 * @example
 * ```ts
 * import { decideTensor, resolvePolicy } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * import type { TensorInfo } from "gguf-stream";
 * const info = { name: "w", type: 12, typeName: "Q4_K", shape: [256, 4] } as TensorInfo;
 * assert.equal(decideTensor(info, resolvePolicy(), true).typeName, "F32");
 * assert.equal(decideTensor(info, resolvePolicy({ requantize: "Q8_0" }), true).typeName, "Q8_0");
 * ```
 */
export function decideTensor(
  info: TensorInfo,
  policy: ResolvedPolicy,
  littleEndian: boolean,
): TensorDecision {
  const own = policy.tensor?.(info);
  const override = own === undefined
    ? policy.types.get(info.typeName)
    : checkAction(own, `tensor "${info.name}"`);
  const source = requireGgmlType(info.type);
  const dequantizer = dequantizerOf(source);
  // Blocks that run across rows (accepted only by `lenient`): llama.cpp refuses to load
  // such a tensor, so it is never kept.
  const crossRow = info.shape[0] % source.blockSize !== 0;
  const convertible = dequantizer !== undefined && (littleEndian || dequantizer.endianAware);
  const cannot = (what: string) => {
    if (dequantizer === undefined) {
      return new GgufError(
        "UNSUPPORTED_TYPE",
        `Cannot ${what} tensor "${info.name}": gguf-stream has no ${info.typeName} kernel (keep it instead)`,
        info.indexOffset,
      );
    }
    return new GgufError(
      "UNSUPPORTED_BYTE_ORDER",
      `Cannot ${what} tensor "${info.name}": ${info.typeName} blocks in a big-endian file are not supported`,
      info.indexOffset,
    );
  };
  const rowLength = info.shape[0];
  /** Into `typeName` (or F32) by the method's action. */
  const into = (typeName: GgmlTypeName, reason: string): TensorDecision => {
    if (typeName === "F32") {
      const action = info.typeName === "F32" ? "keep" : "dequantize";
      return { action, typeName, reason, unsupported: false };
    }
    // Blocks running across rows are never kept nor transcoded (block by block).
    const action = crossRow ? "requantize" : actionInto(info.typeName, typeName, policy.method);
    return { action, typeName, reason, unsupported: false };
  };
  /** Into the asked type where rows allow, else its fallback. */
  const convert = (why: string, asked: RequantizeType | "auto" | undefined): TensorDecision => {
    if (asked === undefined) return into("F32", why);
    if (asked === "auto") {
      const best = mostAccurate(rowLength, policy.target);
      return { ...into(best, `${why}; auto: not measured`), auto: true };
    }
    const out = rowFallback(asked, rowLength, policy.target);
    const note = out === asked
      ? ""
      : `; rows of ${rowLength} are not whole ${asked} blocks: ${out}`;
    return into(out, why + note);
  };

  if (override === "refuse") {
    throw new GgufError(
      "REFUSED",
      `Cannot convert tensor "${info.name}": the policy refuses ${info.typeName} tensors`,
      info.indexOffset,
    );
  }
  if (crossRow) {
    if (!convertible) throw cannot("convert the cross-row blocks of");
    return convert(
      "blocks run across rows",
      override === "dequantize" ? undefined : policy.requantize,
    );
  }
  if (override === "keep") {
    return {
      action: "keep",
      typeName: info.typeName,
      reason: "kept by the policy",
      unsupported: false,
    };
  }
  if (override === "dequantize") {
    if (!convertible) throw cannot("dequantize");
    return convert("dequantized by the policy", undefined);
  }
  if (override === "requantize") {
    if (!convertible) throw cannot("requantize");
    return convert("requantized by the policy", policy.requantize ?? "Q8_0");
  }
  if (policy.target.has(info.typeName)) {
    return { action: "keep", typeName: info.typeName, reason: "in target", unsupported: false };
  }
  if (convertible) return convert(`${info.typeName} not in target`, policy.requantize);
  if (policy.unsupported === "error") {
    throw new GgufError(
      dequantizer === undefined ? "UNSUPPORTED_TYPE" : "UNSUPPORTED_BYTE_ORDER",
      `Cannot convert tensor "${info.name}": ${info.typeName} is not in the target and ${
        dequantizer === undefined
          ? "gguf-stream has no kernel for it"
          : "its big-endian blocks cannot be read"
      } (keep it with a per-type rule, or allow it with option unsupported: "warn")`,
      info.indexOffset,
    );
  }
  return {
    action: "keep",
    typeName: info.typeName,
    reason: dequantizer === undefined ? `no ${info.typeName} kernel` : "big-endian blocks",
    unsupported: true,
  };
}

/**
 * The policy's checks and its per-tensor decision: what happens to a tensor given the
 * target types, the requantization type, the overrides and the kernels gguf-stream has.
 *
 * @module
 */
import {
  type ConversionPolicy,
  DEFAULT_TARGET,
  type RequantizeType,
  type TensorAction,
} from "../model/conversion.ts";
import { GgufError } from "../model/errors.ts";
import { type GgmlTypeName, requireGgmlType } from "../model/ggml_type.ts";
import type { TensorInfo } from "../model/gguf_file.ts";
import { dequantizerOf, quantizerOf } from "./kernels.ts";

/** Every action name, for argument checks. */
export const TENSOR_ACTIONS: readonly TensorAction[] = [
  "keep",
  "dequantize",
  "requantize",
  "refuse",
];

/** The types gguf-stream can requantize into. */
export const REQUANTIZE_TYPES: readonly RequantizeType[] = ["Q8_0", "Q4_0"];

/** A policy checked once, with its names normalized. */
export interface ResolvedPolicy {
  /** The types kept as they are (the runtime loads them). */
  target: ReadonlySet<GgmlTypeName>;
  /** The type other types are requantized into, or `undefined` to dequantize to F32. */
  requantize: RequantizeType | undefined;
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
 * @throws {TypeError} For an unknown type or action, or `requantize` outside the target.
 *
 * @example
 * ```ts
 * import { resolvePolicy } from "./policy.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...resolvePolicy({}).target], ["Q4_0", "Q8_0", "F32"]);
 * assert.throws(() => resolvePolicy({ target: ["F32"], requantize: "Q8_0" }), TypeError);
 * ```
 */
export function resolvePolicy(policy: ConversionPolicy = {}): ResolvedPolicy {
  const target = new Set((policy.target ?? DEFAULT_TARGET).map((t) => requireGgmlType(t).name));
  if (target.size === 0) throw new TypeError("The target names no type");
  const requantize = policy.requantize;
  if (requantize !== undefined) {
    if (!REQUANTIZE_TYPES.includes(requantize)) {
      throw new TypeError(
        `Cannot requantize to ${JSON.stringify(requantize)}: gguf-stream requantizes to ${
          REQUANTIZE_TYPES.join(" or ")
        }`,
      );
    }
    if (!target.has(requantize)) {
      throw new TypeError(`requantize ${requantize} must be one of the target types`);
    }
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
  return { target, requantize, types, tensor: policy.tensor, unsupported };
}

/** The decision for one tensor, before its output size is computed. */
export interface TensorDecision {
  /** What is done to the tensor. */
  action: Exclude<TensorAction, "refuse">;
  /** The output's ggml type name. */
  typeName: GgmlTypeName;
  /** Why, in a few words: `in target`, `Q4_K not in target`, `no kernel for I32` … */
  reason: string;
  /** `true` when the tensor is kept only because its type has no kernel (a warning). */
  unsupported: boolean;
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
 * import { decideTensor, resolvePolicy } from "./policy.ts";
 * import assert from "node:assert/strict";
 * import type { TensorInfo } from "../model/gguf_file.ts";
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
  /** Requantized where rows allow, else F32. */
  const convert = (why: string, into: GgmlTypeName | undefined): TensorDecision => {
    if (into !== undefined && info.typeName === into && !crossRow) {
      return { action: "keep", typeName: into, reason: why, unsupported: false };
    }
    if (into !== undefined && info.shape[0] % 32 === 0 && quantizerOf(requireGgmlType(into))) {
      return { action: "requantize", typeName: into, reason: why, unsupported: false };
    }
    const note = into === undefined
      ? ""
      : `; rows of ${info.shape[0]} are not whole ${into} blocks`;
    if (info.typeName === "F32") {
      return { action: "keep", typeName: "F32", reason: why + note, unsupported: false };
    }
    return { action: "dequantize", typeName: "F32", reason: why + note, unsupported: false };
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

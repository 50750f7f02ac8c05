/**
 * The vocabulary of a conversion, shared by every layer: the policy a caller gives, the
 * plan decided from it, and the converted tensors it produces.
 *
 * @module
 */
import type { GgmlTypeName } from "./ggml_type.ts";
import type { TensorInfo } from "./gguf_file.ts";

/**
 * What happens to one tensor:
 * - `keep`: its bytes as they are (a zero-copy view where the source can map them);
 * - `dequantize`: float32 values computed bit for bit as ggml's `to_float`;
 * - `requantize`: dequantized, then quantized to Q8_0 or Q4_0 as ggml's reference
 *   quantizers do (what `llama-quantize --allow-requantize` writes);
 * - `refuse`: a `GgufError` (`REFUSED`) before any tensor is converted.
 */
export type TensorAction = "keep" | "dequantize" | "requantize" | "refuse";

/** The types gguf-stream can requantize into. */
export type RequantizeType = "Q8_0" | "Q4_0";

/** What a caller asks of a conversion. Every field is optional. */
export interface ConversionPolicy {
  /**
   * The types the consuming runtime loads (default {@linkcode DEFAULT_TARGET}: Q4_0,
   * Q8_0, F32). Tensors of these types are kept; every other tensor whose type has a
   * kernel is dequantized to F32, or requantized when `requantize` is set.
   */
  target?: readonly string[];
  /**
   * Requantize convertible tensors to this type instead of dequantizing them to F32. It
   * must be in `target`. A tensor whose row length is not a multiple of 32 becomes F32.
   */
  requantize?: RequantizeType;
  /** Actions by type name (`"F16": "keep"`, case-insensitive), over the target rule. */
  types?: Readonly<Record<string, TensorAction>>;
  /** An action per tensor, over everything else; `undefined` keeps the type's. */
  tensor?: (tensor: TensorInfo) => TensorAction | undefined;
  /**
   * Types outside the target with no kernel: `warn` (default; kept as they are, with one
   * warning per type) or `error` (`UNSUPPORTED_TYPE`).
   */
  unsupported?: "warn" | "error";
}

/** The default target: what llama.cpp-style runtimes with Q4_0, Q8_0 and F32 kernels load. */
export const DEFAULT_TARGET: readonly GgmlTypeName[] = Object.freeze(["Q4_0", "Q8_0", "F32"]);

/** What will happen to one tensor, decided before any data is read. */
export interface TensorPlan {
  /** The tensor's index entry (its source type is `info.type` / `info.typeName`). */
  info: TensorInfo;
  /** What is done to it. */
  action: Exclude<TensorAction, "refuse">;
  /** The output's ggml type id. */
  type: number;
  /** The output's ggml type name. */
  typeName: GgmlTypeName;
  /** The output's size in bytes. */
  nbytes: number;
  /** Why, in a few words: `in target`, `Q4_K not in target`, `no kernel for I32` … */
  reason: string;
  /** `true` when the tensor is kept only because its type has no kernel (a warning). */
  unsupported: boolean;
}

/** What every converted tensor has ({@linkcode Float32Tensor} and {@linkcode BlockTensor}). */
export interface ConvertedBase {
  /** The tensor's name. */
  name: string;
  /** Dimensions in ggml order: `shape[0]` is the row length. */
  shape: number[];
  /** Dimensions in row-major order (`shape` reversed), as JS tensor libraries expect. */
  rowMajorShape: number[];
  /** The tensor's index entry in the source (its type there: `info.typeName`). */
  info: TensorInfo;
  /** What was done to it. */
  action: Exclude<TensorAction, "refuse">;
  /** The output's ggml type id. */
  type: number;
  /**
   * The byte order of `data` for block tensors (the file's); float32 data is always in
   * the platform's order.
   */
  littleEndian: boolean;
  /** `true` when `data` shares memory with the source (a mapping or the caller's bytes). */
  zeroCopy: boolean;
}

/** Float32 values: dequantized, or F32 kept. */
export interface Float32Tensor extends ConvertedBase {
  /** The output's ggml type name: always `F32` here. */
  typeName: "F32";
  /** The values, in the platform's byte order. */
  data: Float32Array;
}

/** Blocks of a ggml type other than F32 (kept, or requantized), in ggml's layout. */
export interface BlockTensor extends ConvertedBase {
  /** The output's ggml type name. */
  typeName: Exclude<GgmlTypeName, "F32">;
  /** The packed blocks, in ggml's layout and the byte order `littleEndian` says. */
  data: Uint8Array;
}

/** One converted tensor: `typeName === "F32"` holds a `Float32Array`, any other type bytes. */
export type ConvertedTensor = Float32Tensor | BlockTensor;

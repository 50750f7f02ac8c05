/**
 * The vocabulary of a conversion, shared by every layer: the policy a caller gives, the
 * plan decided from it, and the converted tensors it produces.
 *
 * @module
 */
import type { GgmlTypeName } from "./ggml_type.ts";
import type { TensorInfo } from "./gguf_file.ts";

/**
 * What a policy may ask for one tensor:
 * - `keep`: its bytes as they are (a zero-copy view where the source can map them);
 * - `dequantize`: float32 values computed bit for bit as ggml's `to_float`;
 * - `requantize`: converted into the policy's `requantize` type (dequantized and quantized
 *   as ggml's quantizers do — what `llama-quantize --allow-requantize` writes — or, with
 *   `method: "best"`, transcoded block to block where a transcoder exists);
 * - `refuse`: a `GgufError` (`REFUSED`) before any tensor is converted.
 */
export type TensorAction = "keep" | "dequantize" | "requantize" | "refuse";

/**
 * What is done to one tensor, as a plan says: `keep`, `dequantize` and `requantize` as
 * {@linkcode TensorAction} says, and `transcode`: its blocks rewritten as blocks of the
 * output type directly, never through float32 and a quantizer.
 */
export type PlannedAction = "keep" | "dequantize" | "requantize" | "transcode";

/**
 * The types a policy may requantize into: every storage type ggml quantizes without an
 * importance matrix. A build without the quantizer for one refuses it (`TypeError`);
 * `quantizableTypes()` names the ones it has.
 */
export type RequantizeType =
  | "Q4_0"
  | "Q4_1"
  | "Q5_0"
  | "Q5_1"
  | "Q8_0"
  | "Q2_K"
  | "Q3_K"
  | "Q4_K"
  | "Q5_K"
  | "Q6_K"
  | "IQ4_NL"
  | "IQ4_XS"
  | "MXFP4"
  | "F16"
  | "BF16";

/**
 * How a tensor is converted into a quantized type: `best` transcodes block to block where a
 * transcoder from its type exists and uses ggml's quantizer elsewhere; `reference` always
 * dequantizes and quantizes with ggml's quantizers (byte-identical to llama-quantize).
 */
export type ConversionMethod = "best" | "reference";

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
   * must be in `target`. A tensor whose rows the type cannot hold falls back as
   * {@linkcode ROW_FALLBACK} says (the plan's reason names it).
   *
   * `"auto"`: for each tensor, of the quantized target types that hold its rows, the one
   * with the fewest bits per weight whose relative RMS error on this tensor is at most
   * `maxError` (transcoders tried too with `method: "best"`), else the most accurate type
   * of the target (F32 when in it). Measured on the tensor's values before any output is
   * written; a one-pass stream input cannot be read twice, so there a rule per source
   * type chooses instead (see `chooseAutoTypes`).
   */
  requantize?: RequantizeType | "auto";
  /** How to requantize: `best` (default) or `reference` (see {@linkcode ConversionMethod}). */
  method?: ConversionMethod;
  /** For `requantize: "auto"`: the largest relative RMS error per tensor (default 0.01). */
  maxError?: number;
  /**
   * A runtime profile (`candle`, `mistral.rs`, `mlx`, `llama.cpp`, `q4q8`): sets `target` to
   * the types that runtime loads, and `requantize` to `"auto"` unless given. Not together
   * with `target`.
   */
  profile?: string;
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
  action: PlannedAction;
  /** The output's ggml type id. */
  type: number;
  /** The output's ggml type name. */
  typeName: GgmlTypeName;
  /** The output's size in bytes. */
  nbytes: number;
  /**
   * With `requantize: "auto"`, the relative RMS error measured for the chosen type on this
   * tensor (absent when a rule chose without measuring, or for kept tensors).
   */
  error?: number;
  /** `true` when `requantize: "auto"` chose (or, before measuring, will choose) its type. */
  auto?: boolean;
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
  action: PlannedAction;
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

/**
 * How a conversion changed a model: size per weight and the error it added, measured on
 * the output actually written.
 */
export interface ConversionSummary {
  /** Weights (elements) of every tensor. */
  weights: number;
  /** Bits per weight of the input's tensor data (all tensors). */
  bitsPerWeightIn: number;
  /** Bits per weight of the output's tensor data (all tensors). */
  bitsPerWeightOut: number;
  /** Weights converted (not kept): the ones the error is measured over. */
  convertedWeights: number;
  /**
   * The relative RMS error `sqrt(Σ(out − x)² / Σx²)` over every converted weight, `x` being
   * the source's exact float32 values (ggml's `to_float`) and `out` the output's; 0 when
   * nothing was converted. Kept tensors add nothing to either sum, nor do values that are
   * not finite in the source (NaN, ±Inf). `Infinity` (never NaN) when the output holds a
   * NaN or an infinity where the source's value is finite: a value past what the output
   * type can hold, such as a block whose scale overflows float16.
   */
  relativeError: number;
  /**
   * The converted tensor whose own relative RMS error is the largest, and that error:
   * `relativeError` weighs every value alike, so a few tensors of large values can hide
   * one that lost much. Absent when nothing was measured (nothing converted, or only
   * exact conversions).
   */
  largestError?: { tensor: string; relativeError: number };
}

/**
 * The result types of a conversion: each tensor carries its own kind and type.
 *
 * @module
 */
import type { Strategy } from "../convert/policy.ts";
import type { TensorInfo } from "./gguf_file.ts";

/** What every converted tensor has. */
interface ConvertedBase {
  /** The tensor's name. */
  name: string;
  /** Dimensions in ggml order: `shape[0]` is the row length. */
  shape: number[];
  /** Dimensions in row-major order (`shape` reversed), as JS tensor libraries expect. */
  rowMajorShape: number[];
  /** The ggml type the file stores. */
  sourceType: string;
  /** The strategy that produced this result. */
  strategy: Strategy;
  /** The tensor's index entry. */
  info: TensorInfo;
  /**
   * The byte order of `data` for `packed` and `raw` results (the file's); `float32` data is
   * always in the platform's order.
   */
  littleEndian: boolean;
  /** `true` when `data` shares memory with the source (a mapping or the caller's bytes). */
  zeroCopy: boolean;
}

/** Packed blocks, kept as they are (strategy `view`). `type` is the packed type. */
export interface PackedTensor extends ConvertedBase {
  kind: "packed";
  type: string;
  data: Uint8Array;
}

/** Float32 values: dequantized, or F32 passed through. */
export interface Float32Tensor extends ConvertedBase {
  kind: "float32";
  type: "F32";
  data: Float32Array;
}

/** Bytes passed through unchanged (strategy `passthrough` on a type other than F32). */
export interface RawTensor extends ConvertedBase {
  kind: "raw";
  type: string;
  data: Uint8Array;
}

/** One converted tensor; switch on `kind`. */
export type ConvertedTensor = PackedTensor | Float32Tensor | RawTensor;

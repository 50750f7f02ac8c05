/**
 * The names of llama.cpp's file types (`enum llama_ftype` in `include/llama.h`), the value
 * of `general.file_type`: what most of a model's tensors were quantized to.
 *
 * @module
 */

/**
 * `general.file_type` values and their `llama_ftype` names (without the `LLAMA_FTYPE_`
 * prefix). Ids 4–6 and 33–35 were removed from llama.cpp and are absent.
 */
export const LLAMA_FILE_TYPES: Readonly<Record<number, string>> = Object.freeze({
  0: "ALL_F32",
  1: "MOSTLY_F16",
  2: "MOSTLY_Q4_0",
  3: "MOSTLY_Q4_1",
  7: "MOSTLY_Q8_0",
  8: "MOSTLY_Q5_0",
  9: "MOSTLY_Q5_1",
  10: "MOSTLY_Q2_K",
  11: "MOSTLY_Q3_K_S",
  12: "MOSTLY_Q3_K_M",
  13: "MOSTLY_Q3_K_L",
  14: "MOSTLY_Q4_K_S",
  15: "MOSTLY_Q4_K_M",
  16: "MOSTLY_Q5_K_S",
  17: "MOSTLY_Q5_K_M",
  18: "MOSTLY_Q6_K",
  19: "MOSTLY_IQ2_XXS",
  20: "MOSTLY_IQ2_XS",
  21: "MOSTLY_Q2_K_S",
  22: "MOSTLY_IQ3_XS",
  23: "MOSTLY_IQ3_XXS",
  24: "MOSTLY_IQ1_S",
  25: "MOSTLY_IQ4_NL",
  26: "MOSTLY_IQ3_S",
  27: "MOSTLY_IQ3_M",
  28: "MOSTLY_IQ2_S",
  29: "MOSTLY_IQ2_M",
  30: "MOSTLY_IQ4_XS",
  31: "MOSTLY_IQ1_M",
  32: "MOSTLY_BF16",
  36: "MOSTLY_TQ1_0",
  37: "MOSTLY_TQ2_0",
  38: "MOSTLY_MXFP4_MOE",
  39: "MOSTLY_NVFP4",
  40: "MOSTLY_Q1_0",
  41: "MOSTLY_Q2_0",
});

/**
 * The `llama_ftype` name of a `general.file_type` value.
 *
 * @param fileType The value of `general.file_type`.
 * @returns Its name, e.g. `MOSTLY_Q4_K_M`, or `undefined` for a value llama.cpp does not define.
 *
 * @example
 * ```ts
 * import { fileTypeName } from "gguf-stream";
 * import assert from "node:assert/strict";
 * assert.equal(fileTypeName(15), "MOSTLY_Q4_K_M");
 * assert.equal(fileTypeName(4), undefined); // removed from llama.cpp
 * ```
 */
export function fileTypeName(fileType: number): string | undefined {
  return Number.isInteger(fileType) && Object.hasOwn(LLAMA_FILE_TYPES, fileType)
    ? LLAMA_FILE_TYPES[fileType]
    : undefined;
}

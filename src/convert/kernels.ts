/**
 * The kernel table: for each ggml type id, the kernel that turns its blocks into float32
 * (bit for bit as ggml's `to_float`) and, for the target types, the one that turns
 * float32 into its blocks (as ggml's `ggml_quantize_chunk` without an importance matrix).
 *
 * @module
 */
import type { GgmlTypeTraits } from "../model/ggml_type.ts";
import { GgmlType, ggmlType } from "../model/ggml_type.ts";
import { dequantizeRowBf16, dequantizeRowF16, dequantizeRowF32 } from "./dequant/float.ts";
import { dequantizeRowIq4Nl } from "./dequant/iq4_nl.ts";
import { dequantizeRowIq4Xs } from "./dequant/iq4_xs.ts";
import { dequantizeRowQ2K } from "./dequant/q2_k.ts";
import { dequantizeRowQ3K } from "./dequant/q3_k.ts";
import { dequantizeRowQ4_0 } from "./dequant/q4_0.ts";
import { dequantizeRowQ4_1 } from "./dequant/q4_1.ts";
import { dequantizeRowQ4K } from "./dequant/q4_k.ts";
import { dequantizeRowQ5_0 } from "./dequant/q5_0.ts";
import { dequantizeRowQ5_1 } from "./dequant/q5_1.ts";
import { dequantizeRowQ5K } from "./dequant/q5_k.ts";
import { dequantizeRowQ6K } from "./dequant/q6_k.ts";
import { dequantizeRowQ8_0 } from "./dequant/q8_0.ts";
import { dequantizeRowIq1M, dequantizeRowIq1S } from "./dequant/iq1.ts";
import { dequantizeRowIq2S, dequantizeRowIq2Xs, dequantizeRowIq2Xxs } from "./dequant/iq2.ts";
import { dequantizeRowIq3S, dequantizeRowIq3Xxs } from "./dequant/iq3.ts";
import { dequantizeRowTq1_0, dequantizeRowTq2_0 } from "./dequant/tq.ts";
import { dequantizeRowMxfp4, dequantizeRowNvfp4 } from "./dequant/fp4.ts";
import { dequantizeRowQ1_0, dequantizeRowQ2_0 } from "./dequant/q1_q2.ts";
import { quantizeRowBf16, quantizeRowF16 } from "./quant/float.ts";
import { quantizeRowIq4Nl, quantizeRowIq4Xs } from "./quant/iq4.ts";
import { quantizeRowMxfp4 } from "./quant/mxfp4.ts";
import { quantizeRowQ2K } from "./quant/q2_k.ts";
import { quantizeRowQ4K } from "./quant/q4_k.ts";
import { quantizeRowQ4_0 } from "./quant/q4_0.ts";
import { quantizeRowQ4_1 } from "./quant/q4_1.ts";
import { quantizeRowQ5K } from "./quant/q5_k.ts";
import { quantizeRowQ5_0 } from "./quant/q5_0.ts";
import { quantizeRowQ5_1 } from "./quant/q5_1.ts";
import {
  hasSimdKernel,
  type SimdKernel,
  simdKernel,
  type SimdQuantizer,
  simdQuantizer,
} from "./simd/simd_kernels.ts";
import { quantKKernel } from "./simd/quant_k_kernels.ts";
import { quantizeRowQ3K } from "./quant/q3_k.ts";
import { quantizeRowQ6K } from "./quant/q6_k.ts";
import { quantizeRowQ8_0 } from "./quant/q8_0.ts";

/**
 * A dequantization kernel: reads `blocks` whole blocks from `src` (starting at its
 * first byte) and writes `blocks × blockSize` float32 values to `dst` (starting at
 * its first element). Allocates nothing and checks nothing: its caller does.
 * `littleEndian` is `false` only for big-endian files.
 */
export type DequantizeKernel = (
  src: Uint8Array,
  dst: Float32Array,
  blocks: number,
  littleEndian: boolean,
) => void;

/**
 * A quantization kernel: reads `blocks × blockSize` float32 values from `src` and writes
 * `blocks` whole blocks to `dst`. Allocates nothing and checks nothing.
 */
export type QuantizeKernel = (src: Float32Array, dst: Uint8Array, blocks: number) => void;

/** A type's dequantizer, and whether it reads multi-byte fields in either byte order. */
export interface Dequantizer {
  /**
   * The kernel: `blocks` whole blocks from `src` to float32 values in `dst`. For the
   * types {@linkcode hasSimdKernel} names (every quantized type) it
   * runs the SIMD kernel (`simd/simd_kernels.ts`) on little-endian blocks where
   * WebAssembly SIMD is available, the portable one otherwise: the same values either way.
   */
  readonly kernel: DequantizeKernel;
  /** The portable JavaScript kernel (what `kernel` falls back to). */
  readonly portable: DequantizeKernel;
  /** `true` when the kernel can read big-endian blocks (plain float types). */
  readonly endianAware: boolean;
}

const DEQUANTIZERS = new Map<number, Dequantizer>();
const QUANTIZERS = new Map<number, QuantizeKernel>();

/**
 * Fewer weights than this in one call are dequantized by the portable kernel: crossing into
 * WebAssembly and copying the values in and out costs more than they take.
 */
const SIMD_MIN_WEIGHTS = 256;

/** `portable`, or the type's SIMD kernel for little-endian blocks once it is known to run. */
function preferSimd(id: number, portable: DequantizeKernel): DequantizeKernel {
  if (!hasSimdKernel(id)) return portable;
  const minBlocks = SIMD_MIN_WEIGHTS / ggmlType(id)!.blockSize;
  let simd: SimdKernel | undefined | null = null; // null: not looked up yet
  return (src, dst, blocks, littleEndian) => {
    if (littleEndian && blocks >= minBlocks) {
      // Looked up at the first call: the module is compiled only when it is needed.
      if (simd === null) simd = simdKernel(id);
      if (simd !== undefined) return simd(src, dst, blocks);
    }
    portable(src, dst, blocks, littleEndian);
  };
}

/** A quantizer: the SIMD one once it is known to run, else `portable`. */
function preferSimdQuantizer(id: number, portable: QuantizeKernel): QuantizeKernel {
  let simd: SimdQuantizer | undefined | null = null; // null: not looked up yet
  return (src, dst, blocks) => {
    if (simd === null) simd = simdQuantizer(id, portable);
    (simd ?? portable)(src, dst, blocks);
  };
}

/** A K-quant quantizer: the WebAssembly one once it is known to run, else `portable`. */
function preferWasmQuantizer(id: number, portable: QuantizeKernel): QuantizeKernel {
  let wasm: QuantizeKernel | undefined | null = null; // null: not looked up yet
  return (src, dst, blocks) => {
    if (wasm === null) wasm = quantKKernel(id, portable);
    (wasm ?? portable)(src, dst, blocks);
  };
}

function dequantizer(id: number, portable: DequantizeKernel, endianAware = false): void {
  DEQUANTIZERS.set(id, { kernel: preferSimd(id, portable), portable, endianAware });
}

dequantizer(GgmlType.F32, dequantizeRowF32, true);
dequantizer(GgmlType.F16, dequantizeRowF16, true);
dequantizer(GgmlType.BF16, dequantizeRowBf16, true);
dequantizer(GgmlType.Q4_0, dequantizeRowQ4_0);
dequantizer(GgmlType.Q4_1, dequantizeRowQ4_1);
dequantizer(GgmlType.Q5_0, dequantizeRowQ5_0);
dequantizer(GgmlType.Q5_1, dequantizeRowQ5_1);
dequantizer(GgmlType.Q8_0, dequantizeRowQ8_0);
dequantizer(GgmlType.Q2_K, dequantizeRowQ2K);
dequantizer(GgmlType.Q3_K, dequantizeRowQ3K);
dequantizer(GgmlType.Q4_K, dequantizeRowQ4K);
dequantizer(GgmlType.Q5_K, dequantizeRowQ5K);
dequantizer(GgmlType.Q6_K, dequantizeRowQ6K);
dequantizer(GgmlType.IQ4_NL, dequantizeRowIq4Nl);
dequantizer(GgmlType.IQ4_XS, dequantizeRowIq4Xs);
dequantizer(GgmlType.IQ2_XXS, dequantizeRowIq2Xxs);
dequantizer(GgmlType.IQ2_XS, dequantizeRowIq2Xs);
dequantizer(GgmlType.IQ2_S, dequantizeRowIq2S);
dequantizer(GgmlType.IQ3_XXS, dequantizeRowIq3Xxs);
dequantizer(GgmlType.IQ3_S, dequantizeRowIq3S);
dequantizer(GgmlType.IQ1_S, dequantizeRowIq1S);
dequantizer(GgmlType.IQ1_M, dequantizeRowIq1M);
dequantizer(GgmlType.TQ1_0, dequantizeRowTq1_0);
dequantizer(GgmlType.TQ2_0, dequantizeRowTq2_0);
dequantizer(GgmlType.MXFP4, dequantizeRowMxfp4);
dequantizer(GgmlType.NVFP4, dequantizeRowNvfp4);
dequantizer(GgmlType.Q1_0, dequantizeRowQ1_0);
dequantizer(GgmlType.Q2_0, dequantizeRowQ2_0);

QUANTIZERS.set(GgmlType.Q8_0, preferSimdQuantizer(GgmlType.Q8_0, quantizeRowQ8_0));
QUANTIZERS.set(GgmlType.Q4_0, preferSimdQuantizer(GgmlType.Q4_0, quantizeRowQ4_0));
QUANTIZERS.set(GgmlType.Q4_1, preferSimdQuantizer(GgmlType.Q4_1, quantizeRowQ4_1));
QUANTIZERS.set(GgmlType.Q5_0, preferSimdQuantizer(GgmlType.Q5_0, quantizeRowQ5_0));
QUANTIZERS.set(GgmlType.Q5_1, preferSimdQuantizer(GgmlType.Q5_1, quantizeRowQ5_1));
QUANTIZERS.set(GgmlType.Q2_K, preferWasmQuantizer(GgmlType.Q2_K, quantizeRowQ2K));
QUANTIZERS.set(GgmlType.Q3_K, preferWasmQuantizer(GgmlType.Q3_K, quantizeRowQ3K));
QUANTIZERS.set(GgmlType.Q4_K, preferWasmQuantizer(GgmlType.Q4_K, quantizeRowQ4K));
QUANTIZERS.set(GgmlType.Q5_K, preferWasmQuantizer(GgmlType.Q5_K, quantizeRowQ5K));
QUANTIZERS.set(GgmlType.Q6_K, preferWasmQuantizer(GgmlType.Q6_K, quantizeRowQ6K));
QUANTIZERS.set(GgmlType.IQ4_NL, preferSimdQuantizer(GgmlType.IQ4_NL, quantizeRowIq4Nl));
QUANTIZERS.set(GgmlType.IQ4_XS, preferSimdQuantizer(GgmlType.IQ4_XS, quantizeRowIq4Xs));
QUANTIZERS.set(GgmlType.MXFP4, preferSimdQuantizer(GgmlType.MXFP4, quantizeRowMxfp4));
QUANTIZERS.set(GgmlType.F16, preferSimdQuantizer(GgmlType.F16, quantizeRowF16));
QUANTIZERS.set(GgmlType.BF16, preferSimdQuantizer(GgmlType.BF16, quantizeRowBf16));

/**
 * The dequantizer of a type, if gguf-stream has one.
 *
 * @param type The type's traits (or id).
 * @returns Its kernel and byte-order ability, or `undefined`.
 *
 * @example
 * ```ts
 * import { dequantizerOf } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * assert.ok(dequantizerOf(12) !== undefined); // Q4_K
 * assert.equal(dequantizerOf(26), undefined); // I32 has no float form
 * ```
 */
export function dequantizerOf(type: GgmlTypeTraits | number): Dequantizer | undefined {
  return DEQUANTIZERS.get(typeof type === "number" ? type : type.id);
}

/**
 * Why a type has no dequantizer, for messages: the integer types hold no floats; Q8_1 and
 * Q8_K are ggml's internal types for its matrix products, which its quantizers never
 * write to a file. For any other type (F64) there is nothing more to say than that
 * gguf-stream has no kernel for it.
 *
 * @param type The type's traits.
 * @returns The reason, or `undefined` when there is none to add.
 *
 * @example
 * ```ts
 * import { noKernelReason } from "./kernels.ts";
 * import { requireGgmlType } from "../model/ggml_type.ts";
 * import assert from "node:assert/strict";
 * assert.equal(noKernelReason(requireGgmlType("I32")), "integer types have no float form");
 * assert.match(noKernelReason(requireGgmlType("Q8_K"))!, /ggml's internal type/);
 * assert.equal(noKernelReason(requireGgmlType("F64")), undefined);
 * ```
 */
export function noKernelReason(type: GgmlTypeTraits): string | undefined {
  if (/^I(8|16|32|64)$/.test(type.name)) return "integer types have no float form";
  if (type.id === GgmlType.Q8_1 || type.id === GgmlType.Q8_K) {
    return `${type.name} is ggml's internal type for matrix products; no ggml quantizer writes it to a file`;
  }
  return undefined;
}

/**
 * The names of the types gguf-stream quantizes into, in ggml's type-id order.
 *
 * @returns The names, e.g. `["F16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", …]`.
 *
 * @example
 * ```ts
 * import { quantizableTypes } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * assert.ok(quantizableTypes().includes("Q8_0"));
 * ```
 */
export function quantizableTypes(): string[] {
  return [...QUANTIZERS.keys()].sort((a, b) => a - b).map((id) => ggmlType(id)!.name);
}

/**
 * The quantizer into a type, if gguf-stream has one (`quantizableTypes()` names them). The
 * K-quants' run in WebAssembly (`simd/quant_k_kernels.ts`) where it is available, the
 * portable kernels otherwise: the same bytes either way.
 *
 * @param type The type's traits (or id).
 * @returns Its kernel, or `undefined`.
 *
 * @example
 * ```ts
 * import { quantizerOf } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * assert.ok(quantizerOf(12) !== undefined); // Q4_K
 * assert.equal(quantizerOf(16), undefined); // no IQ2_XXS quantizer
 * ```
 */
export function quantizerOf(type: GgmlTypeTraits | number): QuantizeKernel | undefined {
  return QUANTIZERS.get(typeof type === "number" ? type : type.id);
}

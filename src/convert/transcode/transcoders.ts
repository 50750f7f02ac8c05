/**
 * The transcoder table: for a pair of ggml types, the kernel that rewrites blocks of the
 * first as blocks of the second directly — never through float32 and a quantizer — where
 * the second type can hold the first one's values exactly, or with each block scale rounded
 * once to F16. Which pairs exist, and why the others cannot, is in `docs/transcoding.md`.
 *
 * @module
 */
import type { GgmlTypeTraits } from "../../model/ggml_type.ts";
import { GgmlType } from "../../model/ggml_type.ts";
import { transcodeMxfp4ToQ5_0, transcodeMxfp4ToQ8_0 } from "./mxfp4_to_q.ts";
import { squaresIq4Nl, transcodeIq4NlToQ8_0, transcodeIq4XsToQ8_0 } from "./iq4_to_q8_0.ts";
import {
  transcodeIq1MToQ8_0,
  transcodeIq1SToQ5_0,
  transcodeIq1SToQ8_0,
  transcodeIq2XxsToQ8_0,
  transcodeIq3SToQ5_0,
  transcodeIq3SToQ8_0,
  transcodeIq3XxsToQ8_0,
} from "./iq_grid_to_q.ts";
import { transcodeQ3KToQ8_0 } from "./k3_to_q8_0.ts";
import { transcodeQ4KToQ4_1, transcodeQ5KToQ5_1 } from "./k_to_q_1.ts";
import { transcodeQ4_0ToQ4_1, transcodeQ4_1ToQ5_1, transcodeQ5_0ToQ5_1 } from "./legacy_to_q_1.ts";
import {
  squaresQ4_0,
  squaresQ5_0,
  transcodeQ1_0ToQ8_0,
  transcodeQ2_0ToQ8_0,
  transcodeQ4_0ToQ8_0,
  transcodeQ5_0ToQ8_0,
} from "./legacy_to_q8_0.ts";
import {
  transcodeQ1_0ToQ4_0,
  transcodeQ2_0ToQ4_0,
  transcodeQ4_0ToQ5_0,
  transcodeTq1_0ToQ4_0,
  transcodeTq2_0ToQ4_0,
} from "./to_q4_0_q5_0.ts";
import { transcodeTq1_0ToQ8_0, transcodeTq2_0ToQ8_0 } from "./tq_to_q8_0.ts";
import { simdSquares, simdTranscoder } from "../simd/transcode_kernels.ts";

/**
 * A transcoding kernel: reads `blocks` whole blocks of the source type from `src` (little
 * endian, starting at its first byte) and writes the same values as whole blocks of the
 * target type at the start of `dst` (`blocks × source block size / target block size` of
 * them). Allocates nothing and checks nothing: its caller does.
 */
export type TranscodeKernel = (src: Uint8Array, dst: Uint8Array, blocks: number) => void;

/**
 * `sum` plus the sum of the squares of the finite values of `blocks` source blocks, added
 * block by block in order: what a measured conversion through a lossless transcoder needs
 * (its error is zero), without dequantizing.
 */
export type SquaresKernel = (src: Uint8Array, blocks: number, sum: number) => number;

/** A transcoder from one type into another. */
export interface Transcoder {
  /** The source type id. */
  readonly from: number;
  /** The target type id. */
  readonly to: number;
  /** The kernel. */
  readonly kernel: TranscodeKernel;
  /**
   * `true` when the target's `to_float` gives back the source's `to_float` bit for bit for
   * every block; `false` when some blocks differ: a block scale rounded once to F16, a
   * signed zero that becomes +0, or a block the target cannot hold (see
   * `docs/transcoding.md` for each pair).
   */
  readonly lossless: boolean;
  /**
   * For some lossless pairs, Σx² of the source's values computed from its codes (the same
   * number wherever it runs); the others are dequantized to measure.
   */
  readonly squares?: SquaresKernel;
  /**
   * For pairs with a WebAssembly kernel, the portable one, which `kernel` runs where
   * WebAssembly SIMD cannot (the same bytes); tests compare the two.
   */
  readonly portable?: TranscodeKernel;
}

const TRANSCODERS = new Map<number, Transcoder>();

const key = (from: number, to: number) => from * 256 + to;

/**
 * Adds a transcoder to the table (called once per pair by the modules that define them).
 *
 * @param transcoder The pair and its kernel.
 */
export function registerTranscoder(transcoder: Transcoder): void {
  TRANSCODERS.set(key(transcoder.from, transcoder.to), transcoder);
}

/**
 * The transcoder from one type into another, if there is one.
 *
 * @param from The source type's traits (or id).
 * @param to The target type's traits (or id).
 * @returns The transcoder, or `undefined`.
 *
 * @example
 * ```ts
 * import { transcoderOf } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * assert.equal(transcoderOf(12, 26), undefined); // Q4_K → I32: never
 * assert.equal(transcoderOf(20, 8)?.lossless, true); // IQ4_NL → Q8_0: bit for bit
 * assert.equal(transcoderOf(12, 3)?.lossless, false); // Q4_K → Q4_1: scales rounded
 * ```
 */
export function transcoderOf(
  from: GgmlTypeTraits | number,
  to: GgmlTypeTraits | number,
): Transcoder | undefined {
  const a = typeof from === "number" ? from : from.id;
  const b = typeof to === "number" ? to : to.id;
  return TRANSCODERS.get(key(a, b));
}

/**
 * Every transcoder, for listing.
 *
 * @returns The transcoders in the order they were registered.
 *
 * @example
 * ```ts
 * import { allTranscoders } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * assert.ok(allTranscoders().some((t) => t.from === 2 && t.to === 8)); // Q4_0 → Q8_0
 * ```
 */
export function allTranscoders(): Transcoder[] {
  return [...TRANSCODERS.values()];
}

const T = GgmlType;

/**
 * Registers a pair that has a WebAssembly kernel (and, lossless, Σx²): it runs where this
 * runtime can run it, looked up at the first call (the module is compiled only when it is
 * needed), else the portable one.
 */
function registerSimd(
  from: number,
  to: number,
  portable: TranscodeKernel,
  lossless: boolean,
  squares?: SquaresKernel,
): void {
  let simd: TranscodeKernel | undefined | null = null; // null: not looked up yet
  let simdSum: SquaresKernel | undefined | null = null;
  const sum = squares === undefined ? undefined : (src: Uint8Array, blocks: number, at: number) => {
    if (simdSum === null) simdSum = simdSquares(from);
    return (simdSum ?? squares)(src, blocks, at);
  };
  registerTranscoder({
    from,
    to,
    kernel: (src, dst, blocks) => {
      if (simd === null) simd = simdTranscoder(from, to, portable);
      (simd ?? portable)(src, dst, blocks);
    },
    lossless,
    portable,
    ...(sum === undefined ? {} : { squares: sum }),
  });
}

// Lossless: the target's to_float gives the source's bit for bit for every block.
registerSimd(T.Q4_0, T.Q8_0, transcodeQ4_0ToQ8_0, true, squaresQ4_0);
registerSimd(T.Q5_0, T.Q8_0, transcodeQ5_0ToQ8_0, true, squaresQ5_0);
registerTranscoder({ from: T.Q1_0, to: T.Q8_0, kernel: transcodeQ1_0ToQ8_0, lossless: true });
registerTranscoder({ from: T.Q2_0, to: T.Q8_0, kernel: transcodeQ2_0ToQ8_0, lossless: true });
registerSimd(T.IQ4_NL, T.Q8_0, transcodeIq4NlToQ8_0, true, squaresIq4Nl);
registerTranscoder({ from: T.TQ1_0, to: T.Q8_0, kernel: transcodeTq1_0ToQ8_0, lossless: true });
registerTranscoder({ from: T.TQ2_0, to: T.Q8_0, kernel: transcodeTq2_0ToQ8_0, lossless: true });
registerTranscoder({ from: T.Q4_1, to: T.Q5_1, kernel: transcodeQ4_1ToQ5_1, lossless: true });
registerTranscoder({ from: T.Q4_0, to: T.Q5_0, kernel: transcodeQ4_0ToQ5_0, lossless: true });
registerTranscoder({ from: T.Q1_0, to: T.Q4_0, kernel: transcodeQ1_0ToQ4_0, lossless: true });
registerTranscoder({ from: T.Q2_0, to: T.Q4_0, kernel: transcodeQ2_0ToQ4_0, lossless: true });
registerTranscoder({ from: T.TQ1_0, to: T.Q4_0, kernel: transcodeTq1_0ToQ4_0, lossless: true });
registerTranscoder({ from: T.TQ2_0, to: T.Q4_0, kernel: transcodeTq2_0ToQ4_0, lossless: true });
// Exact for most blocks; a block scale is rounded once to a half where it does not fit
// one (or, Q4_0/Q5_0 → Q_1, only the sign of a zero differs): see each module.
registerSimd(T.IQ4_XS, T.Q8_0, transcodeIq4XsToQ8_0, false);
registerSimd(T.MXFP4, T.Q8_0, transcodeMxfp4ToQ8_0, false);
registerTranscoder({ from: T.IQ1_S, to: T.Q8_0, kernel: transcodeIq1SToQ8_0, lossless: false });
registerTranscoder({ from: T.IQ1_M, to: T.Q8_0, kernel: transcodeIq1MToQ8_0, lossless: false });
registerTranscoder({ from: T.IQ2_XXS, to: T.Q8_0, kernel: transcodeIq2XxsToQ8_0, lossless: false });
registerTranscoder({ from: T.IQ3_XXS, to: T.Q8_0, kernel: transcodeIq3XxsToQ8_0, lossless: false });
registerTranscoder({ from: T.IQ3_S, to: T.Q8_0, kernel: transcodeIq3SToQ8_0, lossless: false });
registerTranscoder({ from: T.MXFP4, to: T.Q5_0, kernel: transcodeMxfp4ToQ5_0, lossless: false });
registerTranscoder({ from: T.IQ1_S, to: T.Q5_0, kernel: transcodeIq1SToQ5_0, lossless: false });
registerTranscoder({ from: T.IQ3_S, to: T.Q5_0, kernel: transcodeIq3SToQ5_0, lossless: false });
registerTranscoder({ from: T.Q3_K, to: T.Q8_0, kernel: transcodeQ3KToQ8_0, lossless: false });
registerSimd(T.Q4_K, T.Q4_1, transcodeQ4KToQ4_1, false);
registerSimd(T.Q5_K, T.Q5_1, transcodeQ5KToQ5_1, false);
registerTranscoder({ from: T.Q4_0, to: T.Q4_1, kernel: transcodeQ4_0ToQ4_1, lossless: false });
registerTranscoder({ from: T.Q5_0, to: T.Q5_1, kernel: transcodeQ5_0ToQ5_1, lossless: false });

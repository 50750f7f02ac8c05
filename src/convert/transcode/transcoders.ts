/**
 * The transcoder table: for a pair of ggml types, the kernel that rewrites blocks of the
 * first as blocks of the second directly — never through float32 and a quantizer — where
 * the second type can hold the first one's values exactly, or with each block scale rounded
 * once to F16.
 *
 * @module
 */
import type { GgmlTypeTraits } from "../../model/ggml_type.ts";

/**
 * A transcoding kernel: reads `blocks` whole blocks of the source type from `src` (little
 * endian, starting at its first byte) and writes the same values as whole blocks of the
 * target type at the start of `dst` (`blocks × source block size / target block size` of
 * them). Allocates nothing and checks nothing: its caller does.
 */
export type TranscodeKernel = (src: Uint8Array, dst: Uint8Array, blocks: number) => void;

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
   * every block; `false` when a block scale is rounded once to F16.
   */
  readonly lossless: boolean;
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
 * import { transcoderOf } from "./transcoders.ts";
 * import assert from "node:assert/strict";
 * assert.equal(transcoderOf(12, 26), undefined); // Q4_K → I32: never
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
 * import { allTranscoders } from "./transcoders.ts";
 * import assert from "node:assert/strict";
 * assert.ok(Array.isArray(allTranscoders()));
 * ```
 */
export function allTranscoders(): Transcoder[] {
  return [...TRANSCODERS.values()];
}

/**
 * The SIMD transcoders in WebAssembly (asm/src/transcode.ts, compiled into
 * `_transcode_wasm.ts`): Q4_0, Q5_0, IQ4_NL, IQ4_XS and MXFP4 into Q8_0, Q4_K into Q4_1 and
 * Q5_K into Q5_1, byte for byte as the portable kernels in `../transcode/`, and for the
 * lossless three the sum of the squares of their values (what a measured conversion needs
 * of them, without dequantizing). Blocks are copied
 * into the module's memory a piece at a time and the results copied out. Where
 * WebAssembly or its SIMD cannot run (an embedder that forbids compiling code, an engine
 * without SIMD) there are none, and the portable kernels run.
 *
 * @module
 */
import { KVALUES_FP4 } from "../dequant/_fp4_tables.ts";
import { IQ4_VALUES } from "../dequant/_iq4_values.ts";
import { FACTORS } from "../transcode/_block_scale.ts";
import { TRANSCODE_WASM_BASE64 } from "./_transcode_wasm.ts";
import { compileSimdModule } from "./_wasm_module.ts";

/** A transcoding kernel: `blocks` source blocks from `src` into target blocks at `dst`. */
export type SimdTranscodeKernel = (src: Uint8Array, dst: Uint8Array, blocks: number) => void;

/** `sum` plus Σx² over the finite values of `blocks` source blocks at `src`. */
export type SimdSquares = (src: Uint8Array, blocks: number, sum: number) => number;

/** Bytes of source blocks per piece, and at most twice as many of target blocks. */
const PIECE_BYTES = 48 << 10;

/** The 16 signed levels of each nibble type, as bytes: Q4_0's q − 8, `kvalues_iq4nl`, MXFP4's. */
const LEVELS: ReadonlyMap<number, readonly number[]> = new Map([
  [2, Array.from({ length: 16 }, (_, q) => q - 8)],
  [20, Array.from(IQ4_VALUES)],
  [39, Array.from(KVALUES_FP4)],
]);

/** Runs a pair's export on `count` blocks; returns how many it wrote. */
type Run = (e: Exports, at: Layout, count: number) => number;

/** Addresses in the module's memory. */
interface Layout {
  readonly input: number;
  readonly output: number;
  /** Each type's levels, by id. */
  readonly levels: ReadonlyMap<number, number>;
  /** The scale chooser's factor table. */
  readonly factors: number;
}

/** Source bytes, target bytes per source block, and the run, by `from · 256 + to`. */
const PAIRS: ReadonlyMap<number, readonly [number, number, Run]> = new Map([
  [2 * 256 + 8, [
    18,
    34,
    (e, at, n) => (e.nibbles_q8_0(at.input, at.output, n, at.levels.get(2)!), n),
  ]],
  [20 * 256 + 8, [
    18,
    34,
    (e, at, n) => (e.nibbles_q8_0(at.input, at.output, n, at.levels.get(20)!), n),
  ]],
  [6 * 256 + 8, [22, 34, (e, at, n) => (e.q5_0_q8_0(at.input, at.output, n), n)]],
  [23 * 256 + 8, [
    136,
    272,
    (e, at, n) => e.iq4_xs_q8_0(at.input, at.output, n, at.levels.get(20)!, at.factors),
  ]],
  [39 * 256 + 8, [
    17,
    34,
    (e, at, n) => e.mxfp4_q8_0(at.input, at.output, n, at.levels.get(39)!, at.factors),
  ]],
  [12 * 256 + 3, [144, 160, (e, at, n) => (e.q4_k_q4_1(at.input, at.output, n), n)]],
  [13 * 256 + 7, [176, 192, (e, at, n) => (e.q5_k_q5_1(at.input, at.output, n), n)]],
]);

interface Exports {
  nibbles_q8_0(src: number, dst: number, blocks: number, levels: number): void;
  q5_0_q8_0(src: number, dst: number, blocks: number): void;
  nibbles_squares(src: number, blocks: number, levels: number, sum: number): number;
  q5_0_squares(src: number, blocks: number, sum: number): number;
  iq4_xs_q8_0(src: number, dst: number, blocks: number, levels: number, factors: number): number;
  mxfp4_q8_0(src: number, dst: number, blocks: number, levels: number, factors: number): number;
  q4_k_q4_1(src: number, dst: number, blocks: number): void;
  q5_k_q5_1(src: number, dst: number, blocks: number): void;
}

/** The module's one instance in this thread, with its memory's view and layout. */
interface Instance {
  readonly bytes: Uint8Array;
  readonly layout: Layout;
  readonly exports: Exports;
}

/** Undefined before the first use, null where WebAssembly cannot run. */
let instance: Instance | null | undefined;

/** Compiles and instantiates the module once; `null` where the runtime cannot. */
function load(): Instance | null {
  if (instance !== undefined) return instance;
  instance = null;
  try {
    const compiled = compileSimdModule(TRANSCODE_WASM_BASE64);
    if (compiled === null) return null; // no WebAssembly SIMD here
    const made = new WebAssembly.Instance(compiled, {});
    const memory = made.exports.memory as WebAssembly.Memory;
    const base = Math.ceil((made.exports.heap_base as () => number)() / 16) * 16;
    // The levels, then FACTORS (65 × 33 i32: a count, then the factors), then the pieces.
    const factors = base + 16 * LEVELS.size;
    const input = factors + 65 * 132;
    const output = input + PIECE_BYTES;
    const pages = Math.ceil((output + 2 * PIECE_BYTES) / 65536);
    const have = memory.buffer.byteLength / 65536;
    if (have < pages) memory.grow(pages - have);
    const bytes = new Uint8Array(memory.buffer);
    const levels = new Map<number, number>();
    let at = base;
    for (const [id, values] of LEVELS) {
      bytes.set(values.map((v) => v & 255), at);
      levels.set(id, at);
      at += 16;
    }
    const table = new Int32Array(memory.buffer, factors, 65 * 33);
    FACTORS.forEach((list, m) => {
      if (list.length > 32) throw new Error("FACTORS past 32 a multiplier");
      table[33 * m] = list.length;
      table.set(list, 33 * m + 1);
    });
    instance = {
      bytes,
      layout: { input, output, levels, factors },
      exports: made.exports as unknown as Exports,
    };
  } catch {
    // Compiling code at run time is forbidden here (a CSP, Cloudflare Workers), or no
    // memory is left for WebAssembly: the portable kernels will do.
  }
  return instance;
}

/**
 * The WebAssembly transcoder of a pair, if there is one and this runtime can run it: the
 * same bytes as the pair's portable kernel, `fallback`, which is given any block the
 * module leaves (a block of codes past ±127 even after sharing powers of two, which
 * these sources never have).
 *
 * @param from The source type id: 2 (Q4_0), 6 (Q5_0), 20 (IQ4_NL), 23 (IQ4_XS) or 39
 *   (MXFP4) into Q8_0; 12 (Q4_K) into Q4_1; 13 (Q5_K) into Q5_1.
 * @param to The target type id.
 * @param fallback The pair's portable kernel.
 * @returns The kernel (which allocates nothing and checks nothing), or `undefined` for
 *   another pair or where WebAssembly cannot run.
 *
 * @example
 * ```ts
 * import { simdTranscoder } from "./transcode_kernels.ts";
 * import { transcodeQ4_0ToQ8_0 } from "../transcode/legacy_to_q8_0.ts";
 * import assert from "node:assert/strict";
 * const q4_0 = simdTranscoder(2, 8, transcodeQ4_0ToQ8_0)!; // in Deno, Bun and Node
 * const block = new Uint8Array(18);
 * block.set([0x00, 0x3c, 0x9f]); // d = 1.0; codes 15 and 9 in the first byte
 * const out = new Uint8Array(34);
 * q4_0(block, out, 1);
 * assert.deepEqual([...out.subarray(0, 3), out[18]], [0x00, 0x3c, 7, 1]);
 * assert.equal(simdTranscoder(12, 8, transcodeQ4_0ToQ8_0), undefined); // no such pair
 * ```
 */
export function simdTranscoder(
  from: number,
  to: number,
  fallback: SimdTranscodeKernel,
): SimdTranscodeKernel | undefined {
  const pair = PAIRS.get(from * 256 + to);
  if (pair === undefined) return undefined;
  const loaded = load();
  if (loaded === null) return undefined;
  const { bytes, layout, exports } = loaded;
  const { input, output } = layout;
  const [sourceBytes, targetBytes, run] = pair;
  const perPiece = Math.floor(PIECE_BYTES / sourceBytes);
  return (src, dst, blocks) => {
    for (let done = 0; done < blocks;) {
      const count = Math.min(perPiece, blocks - done);
      bytes.set(src.subarray(done * sourceBytes, (done + count) * sourceBytes), input);
      const wrote = run(exports, layout, count);
      dst.set(bytes.subarray(output, output + wrote * targetBytes), done * targetBytes);
      done += wrote;
      if (wrote < count) {
        const at = done * sourceBytes;
        fallback(src.subarray(at, at + sourceBytes), dst.subarray(done * targetBytes), 1);
        done++;
      }
    }
  };
}

/**
 * The WebAssembly sum of the squares of a type's values, for the types
 * {@linkcode simdTranscoder} takes: the terms d²·Σcode² (each exact) added block by block
 * in order, blocks whose half d is infinite or NaN left out (all their values are) — the
 * same number as the portable kernels' `squares`.
 *
 * @param from The source type id: 2 (Q4_0), 6 (Q5_0) or 20 (IQ4_NL).
 * @returns The function `(src, blocks, sum) => sum + Σx²`, or `undefined` for another type
 *   or where WebAssembly cannot run.
 *
 * @example
 * ```ts
 * import { simdSquares } from "./transcode_kernels.ts";
 * import assert from "node:assert/strict";
 * const block = new Uint8Array(18).fill(0x88); // every code 8: level 0
 * block.set([0x00, 0x40, 0x8a]); // d = 2.0; the first value's code 10: level 2
 * assert.equal(simdSquares(2)!(block, 1, 0), 16); // (2·2)²
 * ```
 */
export function simdSquares(from: number): SimdSquares | undefined {
  const sourceBytes = from === 6 ? 22 : 18;
  if (from !== 6 && from !== 2 && from !== 20) return undefined;
  const loaded = load();
  if (loaded === null) return undefined;
  const { bytes, layout: { input, levels: table }, exports } = loaded;
  const levels = table.get(from) ?? 0;
  const perPiece = Math.floor(PIECE_BYTES / sourceBytes);
  return (src, blocks, sum) => {
    for (let done = 0; done < blocks; done += perPiece) {
      const count = Math.min(perPiece, blocks - done);
      bytes.set(src.subarray(done * sourceBytes, (done + count) * sourceBytes), input);
      sum = from === 6
        ? exports.q5_0_squares(input, count, sum)
        : exports.nibbles_squares(input, count, levels, sum);
    }
    return sum;
  };
}

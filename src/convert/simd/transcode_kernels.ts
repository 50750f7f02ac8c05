/**
 * The SIMD transcoders in WebAssembly (asm/src/transcode.ts, compiled into
 * `_transcode_wasm.ts`): Q4_0, IQ4_NL and Q5_0 into Q8_0, byte for byte as the portable
 * kernels in `../transcode/`, and the sum of the squares of those blocks' values (what a
 * measured conversion needs of a lossless pair, without dequantizing). Blocks are copied
 * into the module's memory a piece at a time and the results copied out. Where
 * WebAssembly or its SIMD cannot run (an embedder that forbids compiling code, an engine
 * without SIMD) there are none, and the portable kernels run.
 *
 * @module
 */
import { IQ4_VALUES } from "../dequant/_iq4_values.ts";
import { TRANSCODE_WASM_BASE64 } from "./_transcode_wasm.ts";

/** A transcoding kernel: `blocks` source blocks from `src` into target blocks at `dst`. */
export type SimdTranscodeKernel = (src: Uint8Array, dst: Uint8Array, blocks: number) => void;

/** `sum` plus Σx² over the finite values of `blocks` source blocks at `src`. */
export type SimdSquares = (src: Uint8Array, blocks: number, sum: number) => number;

/** Source blocks per piece: up to 44 KiB in, 68 KiB out, which stay in the core's cache. */
const PIECE_BLOCKS = 2048;
/** Largest source block: Q5_0's 22 bytes; every target is Q8_0's 34. */
const MAX_SOURCE_BYTES = 22;
const TARGET_BYTES = 34;

/** The 16 signed levels of each nibble type, as bytes: Q4_0's q − 8 and `kvalues_iq4nl`. */
const LEVELS: ReadonlyMap<number, readonly number[]> = new Map([
  [2, Array.from({ length: 16 }, (_, q) => q - 8)],
  [20, Array.from(IQ4_VALUES)],
]);

interface Exports {
  nibbles_q8_0(src: number, dst: number, blocks: number, levels: number): void;
  q5_0_q8_0(src: number, dst: number, blocks: number): void;
  nibbles_squares(src: number, blocks: number, levels: number, sum: number): number;
  q5_0_squares(src: number, blocks: number, sum: number): number;
}

/** The module's one instance in this thread, with its memory's view and layout. */
interface Instance {
  readonly bytes: Uint8Array;
  /** Byte address of each nibble type's 16 levels, by type id. */
  readonly levels: ReadonlyMap<number, number>;
  /** Byte address of a piece's source blocks. */
  readonly input: number;
  /** Byte address of a piece's target blocks. */
  readonly output: number;
  readonly exports: Exports;
}

/** Undefined before the first use, null where WebAssembly cannot run. */
let instance: Instance | null | undefined;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Compiles and instantiates the module once; `null` where the runtime cannot. */
function load(): Instance | null {
  if (instance !== undefined) return instance;
  instance = null;
  try {
    const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
    if (wasm === undefined) return null;
    const code = decodeBase64(TRANSCODE_WASM_BASE64);
    if (!wasm.validate(code)) return null; // no SIMD here
    const made = new wasm.Instance(new wasm.Module(code), {});
    const memory = made.exports.memory as WebAssembly.Memory;
    const base = Math.ceil((made.exports.heap_base as () => number)() / 16) * 16;
    const input = base + 16 * LEVELS.size;
    const output = input + PIECE_BLOCKS * MAX_SOURCE_BYTES;
    const pages = Math.ceil((output + PIECE_BLOCKS * TARGET_BYTES) / 65536);
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
    instance = { bytes, levels, input, output, exports: made.exports as unknown as Exports };
  } catch {
    // Compiling code at run time is forbidden here (a CSP, Cloudflare Workers), or no
    // memory is left for WebAssembly: the portable kernels will do.
  }
  return instance;
}

/**
 * The WebAssembly transcoder from a type into Q8_0, if there is one and this runtime can
 * run it: the same bytes as the pair's portable kernel.
 *
 * @param from The source type id: 2 (Q4_0), 6 (Q5_0) or 20 (IQ4_NL).
 * @returns The kernel (which allocates nothing and checks nothing), or `undefined` for
 *   another type or where WebAssembly cannot run.
 *
 * @example
 * ```ts
 * import { simdTranscoder } from "./transcode_kernels.ts";
 * import assert from "node:assert/strict";
 * const q4_0 = simdTranscoder(2)!; // Q4_0 → Q8_0, in Deno, Bun and Node
 * const block = new Uint8Array(18);
 * block.set([0x00, 0x3c, 0x9f]); // d = 1.0; codes 15 and 9 in the first byte
 * const out = new Uint8Array(34);
 * q4_0(block, out, 1);
 * assert.deepEqual([...out.subarray(0, 3), out[18]], [0x00, 0x3c, 7, 1]);
 * assert.equal(simdTranscoder(12), undefined); // Q4_K has none into Q8_0
 * ```
 */
export function simdTranscoder(from: number): SimdTranscodeKernel | undefined {
  const sourceBytes = from === 6 ? 22 : 18;
  if (from !== 6 && !LEVELS.has(from)) return undefined;
  const loaded = load();
  if (loaded === null) return undefined;
  const { bytes, input, output, exports } = loaded;
  const levels = loaded.levels.get(from) ?? 0;
  return (src, dst, blocks) => {
    for (let done = 0; done < blocks; done += PIECE_BLOCKS) {
      const count = Math.min(PIECE_BLOCKS, blocks - done);
      bytes.set(src.subarray(done * sourceBytes, (done + count) * sourceBytes), input);
      if (from === 6) exports.q5_0_q8_0(input, output, count);
      else exports.nibbles_q8_0(input, output, count, levels);
      dst.set(bytes.subarray(output, output + count * TARGET_BYTES), done * TARGET_BYTES);
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
  if (from !== 6 && !LEVELS.has(from)) return undefined;
  const loaded = load();
  if (loaded === null) return undefined;
  const { bytes, input, exports } = loaded;
  const levels = loaded.levels.get(from) ?? 0;
  return (src, blocks, sum) => {
    for (let done = 0; done < blocks; done += PIECE_BLOCKS) {
      const count = Math.min(PIECE_BLOCKS, blocks - done);
      bytes.set(src.subarray(done * sourceBytes, (done + count) * sourceBytes), input);
      sum = from === 6
        ? exports.q5_0_squares(input, count, sum)
        : exports.nibbles_squares(input, count, levels, sum);
    }
    return sum;
  };
}

/**
 * The SIMD kernels: every quantized type gguf-stream reads dequantized, and Q8_0 and Q4_0
 * quantized, by WebAssembly SIMD (asm/src/dequant.ts, compiled into `_dequant_wasm.ts`),
 * bit for bit the portable kernels' values, faster. Input is copied into the module's
 * memory a cache-sized piece at a time; dequantized values are written straight into a
 * buffer made by {@linkcode simdOutputBuffer} (a memory of its own: the chunk loop's
 * output buffers), or copied out into any other array. Where WebAssembly or its SIMD is
 * not available (an embedder that forbids compiling code, such as Cloudflare Workers; an
 * engine without SIMD) there are none, and the portable kernels run.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { IQ1S_GRID } from "../dequant/_iq1_tables.ts";
import { IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID } from "../dequant/_iq2_tables.ts";
import { IQ3S_GRID, IQ3XXS_GRID } from "../dequant/_iq3_tables.ts";
import { DEQUANT_WASM_BASE64 } from "./_dequant_wasm.ts";
import { compileSimdModule } from "./_wasm_module.ts";

/** A SIMD dequantizer: `blocks` little-endian blocks from `src` into `dst`. */
export type SimdKernel = (src: Uint8Array, dst: Float32Array, blocks: number) => void;

/**
 * Weights per piece: 128 KiB of float32 output, which with its input stays in a core's
 * L2 cache while the values are copied out.
 */
const PIECE_WEIGHTS = 1 << 15;
/**
 * Layout of the module's memory: the half table, the IQ grids, a piece's blocks, a piece's
 * values. The grids' offsets are also constants of asm/src/dequant.ts (IQ2XXS_GRID …).
 */
const FP16_AT = 0;
const GRIDS: readonly (readonly [number, Uint8Array | Int8Array])[] = [
  [262144, IQ2XXS_GRID],
  [264192, IQ2XS_GRID],
  [268288, IQ2S_GRID],
  [276480, IQ3XXS_GRID],
  [277504, IQ3S_GRID],
  [279552, IQ1S_GRID],
];
const INPUT_AT = 279552 + 2048 * 8;
const INPUT_BYTES = 36864; // ≥ a piece of the largest blocks (Q8_0: 34,816 bytes)
const OUTPUT_AT = INPUT_AT + INPUT_BYTES;
const END = OUTPUT_AT + PIECE_WEIGHTS * 4;

/** Export name, block size and block bytes of each type, by ggml type id. */
const TYPES: ReadonlyMap<number, readonly [string, number, number]> = new Map([
  [2, ["q4_0", 32, 18]],
  [3, ["q4_1", 32, 20]],
  [6, ["q5_0", 32, 22]],
  [7, ["q5_1", 32, 24]],
  [8, ["q8_0", 32, 34]],
  [10, ["q2_k", 256, 84]],
  [11, ["q3_k", 256, 110]],
  [12, ["q4_k", 256, 144]],
  [13, ["q5_k", 256, 176]],
  [14, ["q6_k", 256, 210]],
  [16, ["iq2_xxs", 256, 66]],
  [17, ["iq2_xs", 256, 74]],
  [18, ["iq3_xxs", 256, 98]],
  [19, ["iq1_s", 256, 50]],
  [20, ["iq4_nl", 32, 18]],
  [21, ["iq3_s", 256, 110]],
  [22, ["iq2_s", 256, 82]],
  [23, ["iq4_xs", 256, 136]],
  [29, ["iq1_m", 256, 56]],
  [34, ["tq1_0", 256, 54]],
  [35, ["tq2_0", 256, 66]],
  [39, ["mxfp4", 32, 17]],
  [40, ["nvfp4", 64, 36]],
  [41, ["q1_0", 128, 18]],
  [42, ["q2_0", 64, 18]],
]);

type WasmKernel = (src: number, dst: number, blocks: number, fp16: number) => void;
/** Quantizes blocks until one it leaves to the caller; returns how many it wrote. */
type WasmQuantizer = (src: number, dst: number, blocks: number) => number;

/** One instance of the module, with its own memory. */
interface Instance {
  bytes: Uint8Array;
  floats: Float32Array;
  /** A whole piece's values where the kernels write them, to copy out. */
  piece: Float32Array;
  exports: Record<string, WasmKernel>;
}

/** A SIMD quantizer: `blocks × 32` float32 values from `src` into blocks in `dst`. */
export type SimdQuantizer = (src: Float32Array, dst: Uint8Array, blocks: number) => void;

/** The compiled module in this thread: undefined before the first use, null if none. */
let compiled: WebAssembly.Module | null | undefined;
/** The instance that dequantizes into any array: undefined before the first use, null if none. */
let shared: Instance | null | undefined;
/** The instances whose memory holds an output buffer, by that memory's buffer. */
const OWNERS = new WeakMap<ArrayBufferLike, Instance>();

/** Compiles the module once; `null` where the runtime cannot. */
function module(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  compiled = compileSimdModule(DEQUANT_WASM_BASE64);
  return compiled;
}

/** A new instance, its memory grown to hold the table, the pieces and `extra` bytes. */
function instantiate(extra = 0): Instance | null {
  const compiledModule = module();
  if (compiledModule === null) return null;
  let made: WebAssembly.Instance;
  let memory: WebAssembly.Memory;
  try {
    made = new WebAssembly.Instance(compiledModule, {});
    memory = made.exports.memory as WebAssembly.Memory;
    const pages = Math.ceil((END + extra) / 65536);
    const have = memory.buffer.byteLength / 65536;
    if (have < pages) memory.grow(pages - have);
  } catch {
    return null; // out of memory for WebAssembly: ordinary arrays will do
  }
  const floats = new Float32Array(memory.buffer);
  floats.set(FP16_TO_F32, FP16_AT / 4);
  const bytes = new Uint8Array(memory.buffer);
  for (const [at, grid] of GRIDS) {
    bytes.set(new Uint8Array(grid.buffer, grid.byteOffset, grid.byteLength), at);
  }
  return {
    bytes,
    floats,
    piece: floats.subarray(OUTPUT_AT / 4, OUTPUT_AT / 4 + PIECE_WEIGHTS),
    exports: made.exports as unknown as Record<string, WasmKernel>,
  };
}

/** The instance that works into and from ordinary arrays, made at the first use. */
function sharedInstance(): Instance | null {
  if (shared === undefined) shared = instantiate();
  return shared;
}

/**
 * A zeroed buffer the SIMD kernels write float32 values into directly, where they run: a
 * view of a WebAssembly memory of its own, so a kernel given a `Float32Array` over it skips
 * copying its values out. Where
 * WebAssembly SIMD cannot run (or has no memory to spare), an ordinary buffer. The chunk
 * loop's output buffers and the requantization pass are made this way.
 *
 * @param length The buffer's length in bytes (a multiple of 4).
 * @returns The buffer.
 *
 * @example
 * ```ts
 * import { simdKernel, simdOutputBuffer } from "./simd_kernels.ts";
 * import assert from "node:assert/strict";
 * const out = simdOutputBuffer(32 * 4);
 * const values = new Float32Array(out.buffer, out.byteOffset, 32);
 * const block = new Uint8Array(34);
 * block.set([0x00, 0x3c, 0x02]); // d = 1.0, first quant 2
 * simdKernel(8)!(block, values, 1);
 * assert.equal(values[0], 2);
 * ```
 */
export function simdOutputBuffer(length: number): Uint8Array {
  const owner = instantiate(length);
  if (owner === null) return new Uint8Array(length);
  OWNERS.set(owner.bytes.buffer, owner);
  return owner.bytes.subarray(END, END + length);
}

/**
 * Whether a type has a SIMD dequantizer (whether this runtime can run it is known only
 * once {@linkcode simdKernel} has tried).
 *
 * @param id The ggml type id.
 * @returns `true` for every quantized type gguf-stream reads (the legacy and K-quants, the
 * IQ types, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0 and Q2_0), `false` for the float types.
 *
 * @example
 * ```ts
 * import { hasSimdKernel } from "./simd_kernels.ts";
 * import assert from "node:assert/strict";
 * assert.equal(hasSimdKernel(12), true); // Q4_K
 * assert.equal(hasSimdKernel(1), false); // F16
 * ```
 */
export function hasSimdKernel(id: number): boolean {
  return TYPES.has(id);
}

/**
 * The SIMD dequantizer of a type, if there is one and this runtime can run it.
 *
 * @param id The ggml type id.
 * @returns The kernel, or `undefined` (the portable kernel is then the one to use).
 *
 * @example
 * ```ts
 * import { simdKernel } from "./simd_kernels.ts";
 * import assert from "node:assert/strict";
 * const q8_0 = simdKernel(8)!; // Q8_0, in Deno, Bun and Node
 * const block = new Uint8Array(34);
 * block.set([0x00, 0x3c]); // d = 1.0
 * block[2] = 0xff; // -1
 * const out = new Float32Array(32);
 * q8_0(block, out, 1);
 * assert.equal(out[0], -1);
 * assert.equal(simdKernel(0), undefined); // F32 needs none
 * ```
 */
export function simdKernel(id: number): SimdKernel | undefined {
  const type = TYPES.get(id);
  if (type === undefined) return undefined;
  const common = sharedInstance();
  if (common === null) return undefined;
  const [name, blockSize, blockBytes] = type;
  const perPiece = PIECE_WEIGHTS / blockSize;
  return (src, dst, blocks) => {
    // Into a buffer of an instance's own memory, that instance writes the values in place.
    const owner = OWNERS.get(dst.buffer);
    const { bytes, piece, exports } = owner ?? common;
    const kernel = exports[name];
    for (let done = 0; done < blocks; done += perPiece) {
      const count = Math.min(perPiece, blocks - done);
      // (Views are made only where needed: a small call pays mostly for them.)
      const length = count * blockBytes;
      bytes.set(
        src.length === length ? src : src.subarray(done * blockBytes, done * blockBytes + length),
        INPUT_AT,
      );
      if (owner !== undefined) {
        kernel(INPUT_AT, dst.byteOffset + done * blockSize * 4, count, FP16_AT);
      } else {
        kernel(INPUT_AT, OUTPUT_AT, count, FP16_AT);
        const values = count === perPiece ? piece : piece.subarray(0, count * blockSize);
        dst.set(values, done * blockSize);
      }
    }
  };
}

/** Export name and block bytes of each quantizer, by ggml type id (32 values a block). */
const QUANTIZERS: ReadonlyMap<number, readonly [string, number]> = new Map([
  [2, ["q4_0_from_f32", 18]],
  [8, ["q8_0_from_f32", 34]],
]);

/**
 * The SIMD quantizer into Q8_0 or Q4_0, if this runtime can run it: ggml's
 * `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` bit for bit. A block holding a NaN or
 * an infinity, or whose scale's inverse overflows, is left to `fallback` (the portable
 * quantizer, which follows C there).
 *
 * @param id The ggml type id: 8 (Q8_0) or 2 (Q4_0).
 * @param fallback Quantizes one block: `fallback(src, dst, 1)` on that block's values.
 * @returns The quantizer, or `undefined`.
 *
 * @example
 * ```ts
 * import { simdQuantizer } from "./simd_kernels.ts";
 * import { quantizeRowQ8_0 } from "../quant/q8_0.ts";
 * import assert from "node:assert/strict";
 * const quantize = simdQuantizer(8, quantizeRowQ8_0)!;
 * const values = new Float32Array(32).fill(0.5);
 * values[0] = NaN; // left to the portable quantizer
 * const out = new Uint8Array(34);
 * quantize(values, out, 1);
 * const want = new Uint8Array(34);
 * quantizeRowQ8_0(values, want, 1);
 * assert.deepEqual(out, want);
 * ```
 */
export function simdQuantizer(
  id: number,
  fallback: (src: Float32Array, dst: Uint8Array, blocks: number) => void,
): SimdQuantizer | undefined {
  const type = QUANTIZERS.get(id);
  if (type === undefined) return undefined;
  const common = sharedInstance();
  if (common === null) return undefined;
  const [name, blockBytes] = type;
  const perPiece = PIECE_WEIGHTS / 32;
  return (src, dst, blocks) => {
    // Values already in an instance's memory are read there; others are copied in.
    const owner = OWNERS.get(src.buffer);
    const { bytes, floats, exports } = owner ?? common;
    const quantize = exports[name] as unknown as WasmQuantizer;
    for (let done = 0; done < blocks;) {
      const count = Math.min(perPiece, blocks - done);
      // Quantizing swaps the pieces' roles: values in the output piece, blocks in the input's.
      let from = src.byteOffset + done * 128;
      if (owner === undefined) {
        floats.set(src.subarray(done * 32, (done + count) * 32), OUTPUT_AT / 4);
        from = OUTPUT_AT;
      }
      const wrote = quantize(from, INPUT_AT, count);
      dst.set(bytes.subarray(INPUT_AT, INPUT_AT + wrote * blockBytes), done * blockBytes);
      done += wrote;
      if (wrote < count) {
        // One block the portable quantizer takes (a NaN or an infinity among its values).
        fallback(src.subarray(done * 32, done * 32 + 32), dst.subarray(done * blockBytes), 1);
        done++;
      }
    }
  };
}

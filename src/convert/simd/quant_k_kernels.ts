/**
 * The K-quant quantizers in WebAssembly (asm/src/quant_k.ts, compiled into
 * `_quant_k_wasm.ts`): Q2_K, Q3_K, Q4_K, Q5_K and Q6_K from float32, byte for byte as the
 * portable kernels in `../quant/` (ggml's reference quantizers), without the cost of
 * rounding every JavaScript double to float32. Values are copied into the module's
 * memory a piece at a time and the blocks copied out; a super-block holding a NaN or an
 * infinity is left to the portable kernel, which follows ggml's x86-64 build there. Where
 * WebAssembly or its SIMD cannot run (an embedder that forbids compiling code, such as
 * Cloudflare Workers; an engine without SIMD) there are none, and the portable kernels run.
 *
 * @module
 */
import { QUANT_K_WASM_BASE64 } from "./_quant_k_wasm.ts";
import { compileSimdModule } from "./_wasm_module.ts";

/** A quantizer: `blocks × 256` float32 values from `src` into `blocks` blocks in `dst`. */
export type QuantKKernel = (src: Float32Array, dst: Uint8Array, blocks: number) => void;

/** Super-blocks per piece: 64 KiB of float32 values, which stay in the core's cache. */
const PIECE_BLOCKS = 64;
/** Largest block: Q6_K's 210 bytes. */
const MAX_BLOCK_BYTES = 210;

/** Export name and block bytes of each type, by ggml type id. */
const TYPES: ReadonlyMap<number, readonly [string, number]> = new Map([
  [10, ["q2_k_from_f32", 84]],
  [11, ["q3_k_from_f32", 110]],
  [12, ["q4_k_from_f32", 144]],
  [13, ["q5_k_from_f32", 176]],
  [14, ["q6_k_from_f32", 210]],
]);

/** Quantizes super-blocks until one it leaves to the caller; returns how many it wrote. */
type WasmQuantizer = (src: number, dst: number, blocks: number) => number;

/** The module's one instance in this thread, with its memory's views and layout. */
interface Instance {
  readonly bytes: Uint8Array;
  readonly floats: Float32Array;
  /** Byte address of a piece's values (16-byte aligned). */
  readonly input: number;
  /** Byte address of a piece's blocks. */
  readonly output: number;
  readonly exports: Record<string, WasmQuantizer>;
}

/** Undefined before the first use, null where WebAssembly cannot run. */
let instance: Instance | null | undefined;

/** Compiles and instantiates the module once; `null` where the runtime cannot. */
function load(): Instance | null {
  if (instance !== undefined) return instance;
  instance = null;
  try {
    const compiled = compileSimdModule(QUANT_K_WASM_BASE64);
    if (compiled === null) return null; // no WebAssembly SIMD here
    const made = new WebAssembly.Instance(compiled, {});
    const exports = made.exports as unknown as Record<string, WasmQuantizer>;
    const memory = made.exports.memory as WebAssembly.Memory;
    const base = (made.exports.heap_base as () => number)();
    const input = Math.ceil(base / 16) * 16;
    const output = input + PIECE_BLOCKS * 1024;
    const pages = Math.ceil((output + PIECE_BLOCKS * MAX_BLOCK_BYTES) / 65536);
    const have = memory.buffer.byteLength / 65536;
    if (have < pages) memory.grow(pages - have);
    instance = {
      bytes: new Uint8Array(memory.buffer),
      floats: new Float32Array(memory.buffer),
      input,
      output,
      exports,
    };
  } catch {
    // Compiling code at run time is forbidden here (a CSP, Cloudflare Workers), or no
    // memory is left for WebAssembly: the portable kernels will do.
  }
  return instance;
}

/**
 * The WebAssembly quantizer into a K-quant type, if this runtime can run it: the same
 * bytes as the type's portable kernel, `fallback`, which is given every super-block that
 * holds a NaN or an infinity.
 *
 * @param id The ggml type id: 10 (Q2_K), 11 (Q3_K), 12 (Q4_K), 13 (Q5_K) or 14 (Q6_K).
 * @param fallback The portable kernel of that type, run as `fallback(src, dst, 1)` on
 *   one super-block's values.
 * @returns The quantizer (which allocates nothing and checks nothing), or `undefined`
 *   for another type or where WebAssembly cannot run.
 *
 * @example The portable kernel's bytes, NaN included
 * ```ts
 * import { quantKKernel } from "./quant_k_kernels.ts";
 * import { quantizeRowQ4K } from "../quant/q4_k.ts";
 * import assert from "node:assert/strict";
 * const quantize = quantKKernel(12, quantizeRowQ4K)!; // in Deno, Bun and Node
 * const values = new Float32Array(512).map((_, i) => Math.sin(i));
 * values[300] = NaN; // the second super-block goes to the portable kernel
 * const out = new Uint8Array(288);
 * quantize(values, out, 2);
 * const want = new Uint8Array(288);
 * quantizeRowQ4K(values, want, 2);
 * assert.deepEqual(out, want);
 * assert.equal(quantKKernel(8, quantizeRowQ4K), undefined); // Q8_0 is not a K-quant
 * ```
 */
export function quantKKernel(id: number, fallback: QuantKKernel): QuantKKernel | undefined {
  const type = TYPES.get(id);
  if (type === undefined) return undefined;
  const loaded = load();
  if (loaded === null) return undefined;
  const { bytes, floats, input, output, exports } = loaded;
  const [name, blockBytes] = type;
  const quantize = exports[name];
  const first = input / 4;
  return (src, dst, blocks) => {
    for (let done = 0; done < blocks;) {
      const count = Math.min(PIECE_BLOCKS, blocks - done);
      floats.set(src.subarray(done * 256, (done + count) * 256), first);
      const wrote = quantize(input, output, count);
      dst.set(bytes.subarray(output, output + wrote * blockBytes), done * blockBytes);
      done += wrote;
      if (wrote < count) {
        // A super-block holding a NaN or an infinity: the portable kernel's.
        fallback(src.subarray(done * 256, done * 256 + 256), dst.subarray(done * blockBytes), 1);
        done++;
      }
    }
  };
}

/**
 * The K-quant quantizers (Q2_K … Q6_K) against each other and ggml's C in one process:
 * million weights per second, on one core, of the WebAssembly kernel
 * (`src/convert/simd/quant_k_kernels.ts`, what `quantizerOf()` runs), of the portable
 * JavaScript kernel (`src/convert/quant/`) and of ggml's `quantize_row_<type>_ref` built
 * with `-O3`, called through the runtime's FFI on the very values ours read. Before
 * anything is timed, the three outputs are compared byte for byte: ours must agree, and
 * the C's speed is marked "(other bytes)" if it does not give ours (a build with fused
 * multiply-adds, such as `-march=native` on most x86-64 machines, rounds differently).
 *
 * The values are deterministic synthetic weights (a sum of uniforms, scaled per 256-weight
 * super-block over four decades, an outlier now and then). Runs alternate wasm, portable,
 * C, wasm, … and the best of each is kept, since the machine may be shared.
 *
 * Build ggml's reference quantizers as a shared library from a ggml checkout (as
 * bench/kernel_vs_c_bench.ts explains):
 *
 *   gcc -O3 -DNDEBUG -shared -fPIC -Iinclude -Isrc src/ggml-quants.c -lm \
 *     -o /tmp/libggml-quants-O3.so
 *
 * then, from the repository root, under Deno or Bun:
 *
 *   GGML_QUANTS_LIB=/tmp/libggml-quants-O3.so deno run -A bench/quant_k_bench.ts \
 *     [--rounds=7] [--types=Q4_K,Q6_K]
 *   GGML_QUANTS_LIB=/tmp/libggml-quants-O3.so bun bench/quant_k_bench.ts
 *
 * Without the library the C column is skipped with a note.
 */
import { quantizeRowQ2K } from "../src/convert/quant/q2_k.ts";
import { quantizeRowQ3K } from "../src/convert/quant/q3_k.ts";
import { quantizeRowQ4K } from "../src/convert/quant/q4_k.ts";
import { quantizeRowQ5K } from "../src/convert/quant/q5_k.ts";
import { quantizeRowQ6K } from "../src/convert/quant/q6_k.ts";
import { quantKKernel } from "../src/convert/simd/quant_k_kernels.ts";
import { runtimeName } from "./_runner.ts";
import { loadCRowFunctions } from "./_c_rows.ts";

type Kernel = (src: Float32Array, dst: Uint8Array, blocks: number) => void;

/** Type name, ggml id, block bytes, portable kernel. */
const TYPES: readonly (readonly [string, number, number, Kernel])[] = [
  ["Q4_K", 12, 144, quantizeRowQ4K],
  ["Q5_K", 13, 176, quantizeRowQ5K],
  ["Q6_K", 14, 210, quantizeRowQ6K],
  ["Q2_K", 10, 84, quantizeRowQ2K],
  ["Q3_K", 11, 110, quantizeRowQ3K],
];
/** Weights per run: 1 Mi (4 MiB of float32, the chunk loop's step). */
const WEIGHTS = 1 << 20;

/** A C quantizer: `k` weights from `src` into blocks at `dst`. */
type CKernel = (src: Float32Array, dst: Uint8Array, k: number) => void;

function cSymbol(type: string): string {
  return `quantize_row_${type.replace(/^Q/, "q")}_ref`;
}

/** ggml's quantizers for `types` from the shared library at `path`, by type name. */
async function loadC(path: string, types: string[]): Promise<Record<string, CKernel>> {
  const functions = await loadCRowFunctions(path, types.map(cSymbol));
  return Object.fromEntries(types.map((t) => [t, functions[cSymbol(t)]]));
}

/** Deterministic synthetic weights, scaled per super-block, an outlier now and then. */
function syntheticWeights(count: number): Float32Array {
  let state = 88172645;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const values = new Float32Array(count);
  for (let b = 0; b < count; b += 256) {
    const scale = 10 ** (-3 + 4 * next());
    for (let i = b; i < b + 256; i++) {
      const v = (next() + next() + next() + next() - 2) * scale;
      values[i] = next() < 0.002 ? v * 20 : v;
    }
  }
  return values;
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function option(name: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

const rounds = Number(option("rounds") ?? 7);
const wanted = option("types")?.split(",");
const types = TYPES.filter(([name]) => wanted === undefined || wanted.includes(name));
const cPath = process.env.GGML_QUANTS_LIB;
const c = cPath ? await loadC(cPath, types.map(([name]) => name)) : undefined;
const values = syntheticWeights(WEIGHTS);
const mw = (ms: number) => (WEIGHTS / ms / 1e3).toFixed(1);

console.log(
  `### Quantize ${WEIGHTS / 1048576} Mi weights, one core, ${runtimeName()}: M weights/s ` +
    `(best of ${rounds})`,
);
if (c === undefined) console.log("(no GGML_QUANTS_LIB: the C column is skipped)");
console.log("| type | wasm | portable | ggml C -O3 | wasm / C | wasm / portable |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, id, blockBytes, portable] of types) {
  const blocks = WEIGHTS / 256;
  const wasm = quantKKernel(id, portable);
  if (wasm === undefined) throw new Error("WebAssembly is not available here");
  const a = new Uint8Array(blocks * blockBytes);
  const b = new Uint8Array(blocks * blockBytes);
  const d = new Uint8Array(blocks * blockBytes);
  wasm(values, a, blocks);
  portable(values, b, blocks);
  if (a.some((byte, i) => byte !== b[i])) throw new Error(`${name}: wasm differs from portable`);
  // A C build that contracts a·b + c into fused multiply-adds (`-march=native` on an FMA
  // machine) rounds differently: its bytes are then marked, and only its speed compared.
  let same = true;
  if (c !== undefined) {
    c[name](values, d, WEIGHTS);
    same = a.every((byte, i) => byte === d[i]);
  }
  let bestWasm = Infinity, bestPortable = Infinity, bestC = Infinity;
  for (let r = 0; r < rounds; r++) {
    bestWasm = Math.min(bestWasm, time(() => wasm(values, a, blocks)));
    bestPortable = Math.min(bestPortable, time(() => portable(values, b, blocks)));
    if (c !== undefined) bestC = Math.min(bestC, time(() => c[name](values, d, WEIGHTS)));
  }
  const cCell = c === undefined ? "–" : `${mw(bestC)}${same ? "" : " (other bytes)"}`;
  const ratio = c === undefined ? "–" : (bestC / bestWasm).toFixed(2);
  console.log(
    `| ${name} | ${mw(bestWasm)} | ${mw(bestPortable)} | ${cCell} | ${ratio} | ${
      (bestPortable / bestWasm).toFixed(2)
    } |`,
  );
}

/**
 * Optional: the portable quantizers against ggml's own C on random and hostile blocks.
 * Runs only when `GGML_QUANTS_LIB` names a build of ggml's `src/ggml-quants.c` and the
 * runtime has an FFI (Deno with `--allow-ffi`, Bun); skipped otherwise. Build it as
 * bench/kernel_vs_c_bench.ts says:
 *
 *   gcc -O3 -DNDEBUG -shared -fPIC -Iinclude -Isrc src/ggml-quants.c -lm \
 *     -o /tmp/libggml-quants-O3.so
 *   GGML_QUANTS_LIB=/tmp/libggml-quants-O3.so deno test -A tests/quantize_vs_c_test.ts
 *
 * The C functions are those `ggml_quantize_chunk` runs without an importance matrix:
 * `quantize_row_*_ref` for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and MXFP4, `quantize_iq4_nl` and
 * `quantize_iq4_xs` (F16 and BF16 are header inlines, not in the library).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { quantizerOf } from "../src/convert/kernels.ts";
import { ggmlType } from "../src/model/ggml_type.ts";

/** A C quantizer: `n` values from `src` into `dst`. */
type CQuantizer = (src: Float32Array, dst: Uint8Array, n: number) => void;

/** Per type: the C symbol, and whether it is a row-chunk function (`src, dst, nrow, n_per_row, imatrix`). */
const SYMBOLS: Record<string, [string, boolean]> = {
  Q4_0: ["quantize_row_q4_0_ref", false],
  Q4_1: ["quantize_row_q4_1_ref", false],
  Q5_0: ["quantize_row_q5_0_ref", false],
  Q5_1: ["quantize_row_q5_1_ref", false],
  Q8_0: ["quantize_row_q8_0_ref", false],
  MXFP4: ["quantize_row_mxfp4_ref", false],
  IQ4_NL: ["quantize_iq4_nl", true],
  IQ4_XS: ["quantize_iq4_xs", true],
};

const LIB = process.env.GGML_QUANTS_LIB;
const g = globalThis as Record<string, unknown>;
const SKIP = !LIB
  ? "GGML_QUANTS_LIB is not set"
  : g.Bun === undefined && g.Deno === undefined
  ? "this runtime has no FFI"
  : false;

async function loadC(path: string): Promise<Record<string, CQuantizer>> {
  const out: Record<string, CQuantizer> = {};
  if (g.Bun !== undefined) {
    const { dlopen, FFIType } = await import("bun:ffi");
    const spec = Object.fromEntries(
      Object.values(SYMBOLS).map(([name, chunk]) => [name, {
        args: chunk
          ? [FFIType.ptr, FFIType.ptr, FFIType.i64, FFIType.i64, FFIType.ptr]
          : [FFIType.ptr, FFIType.ptr, FFIType.i64],
        returns: chunk ? FFIType.u64 : FFIType.void,
      }]),
    );
    const lib = dlopen(path, spec);
    for (const [type, [name, chunk]] of Object.entries(SYMBOLS)) {
      const fn = lib.symbols[name] as unknown as (...args: unknown[]) => unknown;
      out[type] = chunk ? (s, d, n) => fn(s, d, 1, n, null) : (s, d, n) => fn(s, d, n);
    }
    return out;
  }
  const deno = g.Deno as {
    dlopen(path: string, spec: Record<string, unknown>): {
      symbols: Record<string, (...args: unknown[]) => unknown>;
    };
  };
  const spec = Object.fromEntries(
    Object.values(SYMBOLS).map(([name, chunk]) => [name, {
      parameters: chunk
        ? ["buffer", "buffer", "i64", "i64", "pointer"]
        : ["buffer", "buffer", "i64"],
      result: chunk ? "usize" : "void",
    }]),
  );
  const lib = deno.dlopen(path, spec);
  for (const [type, [name, chunk]] of Object.entries(SYMBOLS)) {
    const fn = lib.symbols[name];
    out[type] = chunk
      ? (s, d, n) => fn(s, d, 1n, BigInt(n), null)
      : (s, d, n) => fn(s, d, BigInt(n));
  }
  return out;
}

/** Deterministic blocks of many kinds: normal at every scale, bit noise, zeros, NaN, Inf, ties. */
function hostileValues(count: number, group: number, seed: number): Float32Array {
  let s = seed;
  const random = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  for (let g0 = 0; g0 < count; g0 += group) {
    const kind = Math.floor(random() * 10);
    const scale = 10 ** (random() * 90 - 45);
    for (let j = g0; j < g0 + group; j++) {
      const r = random();
      if (kind === 0) bits[j] = Math.floor(r * 4294967296);
      else if (kind === 1) out[j] = r < 0.9 ? (r < 0.45 ? 0 : -0) : gauss() * scale;
      else if (kind === 2) {
        out[j] = r < 0.05 ? [NaN, Infinity, -Infinity][Math.floor(r * 60)] : gauss();
      } else if (kind === 3) out[j] = Math.round(gauss() * 8) * scale;
      else if (kind === 4) {
        out[j] = (r < 0.5 ? -1 : 1) * 2 ** Math.floor(random() * 40 - 20) * (1 - 2 ** -24);
      } else if (kind === 5) bits[j] = Math.floor(r * 0x800000) + (random() < 0.5 ? 0x80000000 : 0);
      else if (kind === 6) out[j] = gauss() * 3e38;
      else out[j] = gauss() * scale;
    }
  }
  return out;
}

test("the quantizers write what ggml's C writes, block for block", { skip: SKIP }, async () => {
  const c = await loadC(LIB!);
  for (const type of Object.keys(SYMBOLS)) {
    const traits = ggmlType(type)!;
    const blocks = traits.blockSize === 256 ? 400 : 3200;
    const values = hostileValues(blocks * traits.blockSize, 32, 17);
    const theirs = new Uint8Array(blocks * traits.bytesPerBlock);
    const ours = new Uint8Array(theirs.length);
    c[type](values, theirs, values.length);
    quantizerOf(traits)!(values, ours, blocks);
    for (let b = 0; b < blocks; b++) {
      const at = b * traits.bytesPerBlock;
      assert.deepEqual(
        ours.subarray(at, at + traits.bytesPerBlock),
        theirs.subarray(at, at + traits.bytesPerBlock),
        `${type} block ${b}`,
      );
    }
  }
});

/**
 * The K-quant quantizers in WebAssembly (asm/src/quant_k.ts): the committed module is what
 * its source compiles to; on every fixture tensor they give ggml's bytes (the fixtures'
 * `requant_sha256`, which the portable kernels give too); on random super-blocks with edge
 * content (zeros, an outlier, all negative, subnormals, huge values, NaN, ±Inf, ties) they
 * give the portable kernels' bytes; and where WebAssembly cannot run, `quantizerOf()`
 * runs the portable kernels.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compile, MODULES, wasmModuleText } from "../asm/build.ts";
import { ggmlType } from "../mod.ts";
import { dequantizerOf, quantizerOf } from "../src/convert/kernels.ts";
import { quantizeRowQ2K } from "../src/convert/quant/q2_k.ts";
import { quantizeRowQ3K } from "../src/convert/quant/q3_k.ts";
import { quantizeRowQ4K } from "../src/convert/quant/q4_k.ts";
import { quantizeRowQ5K } from "../src/convert/quant/q5_k.ts";
import { quantizeRowQ6K } from "../src/convert/quant/q6_k.ts";
import { quantKKernel } from "../src/convert/simd/quant_k_kernels.ts";
import { conformance, type ExpectedTensor, fixtureBytes, listFixtures } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";
import { moduleUrl, runWithoutWebAssembly } from "./_no_wasm.ts";
import { RUNTIME } from "../src/runtime/current.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ASC = join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js");

type Kernel = (src: Float32Array, dst: Uint8Array, blocks: number) => void;
/** Name, ggml type id, block bytes and portable kernel of each K-quant. */
const TYPES: readonly (readonly [string, number, number, Kernel])[] = [
  ["Q2_K", 10, 84, quantizeRowQ2K],
  ["Q3_K", 11, 110, quantizeRowQ3K],
  ["Q4_K", 12, 144, quantizeRowQ4K],
  ["Q5_K", 13, 176, quantizeRowQ5K],
  ["Q6_K", 14, 210, quantizeRowQ6K],
];

/** The oracle's requantization digests (see `shared/fixtures/README.md`). */
type RequantTensor = ExpectedTensor & { requant_sha256?: Record<string, string> };

test(
  "the committed WebAssembly is what asm/src/quant_k.ts compiles to",
  { skip: existsSync(ASC) ? false : "assemblyscript is not installed (npm ci)" },
  () => {
    const module = MODULES.find((m) => m.source === "asm/src/quant_k.ts")!;
    const committed = readFileSync(join(ROOT, "src/convert/simd", module.target), "utf8");
    const built = wasmModuleText(compile(module.source), module);
    assert.equal(committed, built, "run: deno run -A asm/build.ts");
  },
);

test("the WebAssembly K-quant quantizers run here and only for K-quants", () => {
  for (const [name, id, , portable] of TYPES) {
    assert.ok(quantKKernel(id, portable) !== undefined, `${name}: WebAssembly runs in ${RUNTIME}`);
  }
  for (const id of [0, 1, 2, 8, 15, 30]) assert.equal(quantKKernel(id, quantizeRowQ4K), undefined);
});

test(
  "the WebAssembly K-quant quantizers give ggml's bytes on every requantizable fixture tensor",
  conformance,
  () => {
    let checked = 0;
    for (const f of listFixtures()) {
      const bytes = fixtureBytes(f);
      const littleEndian = bytes[4] !== 0;
      for (const tensor of f.expected.tensors as RequantTensor[]) {
        const digests = tensor.requant_sha256;
        if (digests === undefined) continue;
        const traits = ggmlType(tensor.type_id)!;
        const dequantizer = dequantizerOf(traits);
        if (dequantizer === undefined || (!littleEndian && !dequantizer.endianAware)) continue;
        const start = f.expected.data_offset + tensor.offset;
        const count = tensor.nbytes / traits.bytesPerBlock;
        const values = new Float32Array(count * traits.blockSize);
        dequantizer.portable(
          bytes.subarray(start, start + tensor.nbytes),
          values,
          count,
          littleEndian,
        );
        for (const [name, id, blockBytes, portable] of TYPES) {
          const digest: string | undefined = digests[name];
          if (digest === undefined) continue;
          const where = `${f.id} ${tensor.name} (${tensor.type}) → ${name}`;
          const blocks = values.length / 256;
          const got = new Uint8Array(blocks * blockBytes);
          quantKKernel(id, portable)!(values, got, blocks);
          assert.equal(sha256(got), digest, where);
          // The portable kernel gives ggml's bytes too (tests/quantize_k_test.ts and
          // quantize_q3_q6_test.ts); here on the first super-blocks only, for time.
          const some = Math.min(blocks, 8);
          const want = new Uint8Array(some * blockBytes);
          portable(values, want, some);
          assert.deepEqual(got.subarray(0, some * blockBytes), want, where);
          checked++;
        }
      }
    }
    assert.ok(checked >= 5 * 20, `only ${checked} tensors checked`);
  },
);

/** Cases of {@linkcode edgeBlocks}, one per super-block in turn. */
const CASES = 16;

/**
 * `blocks` super-blocks of float32 values from a fixed seed, super-block b holding edge
 * case b % 16 (see the switch).
 */
function edgeBlocks(blocks: number): Float32Array {
  let state = 2463534242;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const values = new Float32Array(blocks * 256);
  const bits = new Uint32Array(values.buffer);
  for (let b = 0; b < blocks; b++) {
    const at = b * 256;
    const spot = Math.floor(next() * 256);
    const scale = Math.exp((next() - 0.5) * 20);
    for (let j = 0, i = at; j < 256; j++, i++) {
      const gauss = (next() + next() + next() - 1.5) * scale;
      switch (b % CASES) {
        case 0: // zeros of both signs
          values[i] = j % 7 === 3 ? -0 : 0;
          break;
        case 1: // zeros but one outlier
          values[i] = j === spot ? (next() - 0.5) * 1e4 : 0;
          break;
        case 2: // all negative
          values[i] = -Math.abs(gauss) - 1e-3 * scale;
          break;
        case 3: // subnormals (and a few normals just above them)
          values[i] = (next() - 0.5) * (j % 5 === 0 ? 1e-37 : 1e-42);
          break;
        case 4: // huge values: sums, squares and scales overflow
          values[i] = (next() - 0.5) * 6e38;
          break;
        case 5: // a NaN among ordinary weights
          values[i] = j === spot ? NaN : gauss;
          break;
        case 6: // ±Inf among ordinary weights
          values[i] = j === spot ? (b % 32 === 6 ? Infinity : -Infinity) : gauss;
          break;
        case 7: // ties: halves and small integers, repeated largest magnitudes
          values[i] = (Math.round(next() * 16) - 8) / 2;
          break;
        case 8: {
          // Any bit pattern: infinities, subnormals, quiet NaNs of either sign. (A NaN
          // payload is not kept by JavaScript engines alike, so the portable kernel's
          // bytes for one are not defined; see src/convert/quant/_k_quant_search.ts.)
          const pattern = (next() * 4294967296) >>> 0;
          const nan = (pattern & 0x7fffffff) > 0x7f800000;
          bits[i] = nan ? (pattern & 0x80000000) | 0x7fc00000 : pattern;
          break;
        }
        case 9: // one value repeated (every run's max equals its min, or all positive)
          values[i] = b % 32 === 9 ? 0.75 : -0.75;
          break;
        case 10: // a NaN first in a run
          values[i] = j % 32 === 0 && j === (spot & ~31) ? NaN : gauss;
          break;
        case 11: // values whose scales pass the largest half
          values[i] = gauss * 1e7;
          break;
        case 12: // tiny magnitudes around ggml's GROUP_MAX_EPS
          values[i] = (next() - 0.5) * 4e-15;
          break;
        case 13: // a run of zeros beside ordinary runs
          values[i] = (j >> 4) % 3 === 0 ? 0 : gauss;
          break;
        case 14: // small integers: exact fits
          values[i] = Math.round((next() - 0.5) * 14);
          break;
        default: // ordinary weights of any scale, an outlier among them
          values[i] = j === spot ? gauss * 30 : gauss;
      }
    }
  }
  return values;
}

const EDGE = edgeBlocks(5_120);

for (const [name, id, blockBytes, portable] of TYPES) {
  test(`the WebAssembly ${name} quantizer gives the portable one's bytes on edge super-blocks`, () => {
    const quantize = quantKKernel(id, portable);
    assert.ok(quantize !== undefined, `WebAssembly runs in ${RUNTIME}`);
    const blocks = EDGE.length / 256;
    const want = new Uint8Array(blocks * blockBytes);
    portable(EDGE, want, blocks);
    const got = new Uint8Array(blocks * blockBytes);
    quantize(EDGE, got, blocks);
    const at = got.findIndex((byte, i) => byte !== want[i]);
    const block = Math.floor(at / blockBytes);
    assert.equal(at, -1, `super-block ${block} (case ${block % CASES})`);
    // A call of an odd count, starting at an odd super-block: pieces and fallbacks line up.
    const from = 37;
    const some = 171;
    const part = new Uint8Array(some * blockBytes);
    quantize(EDGE.subarray(from * 256, (from + some) * 256), part, some);
    assert.deepEqual(part, want.subarray(from * blockBytes, (from + some) * blockBytes));
    // quantizerOf() runs the same kernel.
    got.fill(0);
    quantizerOf(id)!(EDGE, got, blocks);
    assert.deepEqual(got, want);
  });
}

test("without WebAssembly quantizerOf() runs the portable K-quant kernels, same bytes", () => {
  const values = EDGE.subarray(0, 64 * 256);
  const want = TYPES.map(([, , blockBytes, portable]) => {
    const out = new Uint8Array(64 * blockBytes);
    portable(values, out, 64);
    return sha256(out);
  });
  const dir = mkdtempSync(join(tmpdir(), "gguf-quant-k-"));
  try {
    const input = join(dir, "values.f32");
    writeFileSync(input, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    const printed = runWithoutWebAssembly(
      dir,
      `      const { quantizerOf } = await import(${moduleUrl("src/convert/kernels.ts")});
      const { quantKKernel } = await import(${moduleUrl("src/convert/simd/quant_k_kernels.ts")});
      const { sha256 } = await import(${moduleUrl("tests/_hash.ts")});
      const { readFileSync } = await import("node:fs");
      const raw = readFileSync(${JSON.stringify(input)});
      const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const digests = [];
      for (const [id, blockBytes] of [[10, 84], [11, 110], [12, 144], [13, 176], [14, 210]]) {
        if (quantKKernel(id, () => {}) !== undefined) throw new Error("WebAssembly kernel");
        const out = new Uint8Array(64 * blockBytes);
        quantizerOf(id)(values, out, 64);
        digests.push(sha256(out));
      }
      console.log(typeof WebAssembly, digests.join(" "));
      `,
    );
    assert.equal(printed, `undefined ${want.join(" ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

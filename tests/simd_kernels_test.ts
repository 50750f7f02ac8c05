/**
 * The SIMD dequantizers (WebAssembly, asm/src/dequant.ts): the committed module is what its
 * source compiles to; on every fixture tensor of their types they (into an ordinary array
 * and in place, into a buffer of their own memory) and the portable kernels give ggml's
 * float32 bits; and where WebAssembly cannot run, the portable kernels
 * give the same bytes. (Random blocks with edge scales: kernel_speed_equivalence_test.ts and
 * simd_kernels_more_test.ts.)
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compile, wasmModuleText } from "../asm/build.ts";
import { dequantize, ggmlType, readGguf } from "../mod.ts";
import { kernelFloats } from "../kernels.ts";
import { dequantizerOf } from "../src/convert/kernels.ts";
import { quantizeRowQ4_0 } from "../src/convert/quant/q4_0.ts";
import { quantizeRowQ8_0 } from "../src/convert/quant/q8_0.ts";
import {
  hasSimdKernel,
  simdKernel,
  simdOutputBuffer,
  simdQuantizer,
} from "../src/convert/simd/simd_kernels.ts";
import { conformance, listFixtures } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";
import { moduleUrl, runWithoutWebAssembly } from "./_no_wasm.ts";
import { RUNTIME } from "../src/runtime/current.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ASC = join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
const SIMD_TYPES = [
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q8_0",
  "Q2_K",
  "Q3_K",
  "Q4_K",
  "Q5_K",
  "Q6_K",
  "IQ2_XXS",
  "IQ2_XS",
  "IQ2_S",
  "IQ3_XXS",
  "IQ3_S",
  "IQ1_S",
  "IQ1_M",
  "IQ4_NL",
  "IQ4_XS",
  "TQ1_0",
  "TQ2_0",
  "MXFP4",
  "NVFP4",
  "Q1_0",
  "Q2_0",
];

test(
  "the committed WebAssembly is what asm/src/dequant.ts compiles to",
  { skip: existsSync(ASC) ? false : "assemblyscript is not installed (npm ci)" },
  () => {
    const committed = readFileSync(join(ROOT, "src/convert/simd/_dequant_wasm.ts"), "utf8");
    assert.equal(committed, wasmModuleText(compile()), "run: deno run -A asm/build.ts");
  },
);

test("every quantized type has a SIMD kernel, the float types none", () => {
  for (const name of SIMD_TYPES) {
    const id = ggmlType(name)!.id;
    assert.ok(hasSimdKernel(id), name);
    assert.ok(simdKernel(id) !== undefined, `${name}: WebAssembly SIMD runs in ${RUNTIME}`);
  }
  for (const name of ["F32", "F16", "BF16"]) {
    assert.equal(hasSimdKernel(ggmlType(name)!.id), false, name);
  }
});

test(
  "SIMD kernels (into an array and in place) and portable ones give ggml's bits on every fixture tensor",
  conformance,
  async () => {
    const seen = new Set<string>();
    for (const fixture of listFixtures()) {
      const wanted = fixture.expected.tensors.filter((t) =>
        SIMD_TYPES.includes(t.type) && t.f32_sha256 !== null
      );
      if (wanted.length === 0) continue;
      const file = readFileSync(fixture.path);
      const header = await readGguf(fixture.path, { lenient: fixture.lenientOracle });
      for (const expected of wanted) {
        const info = header.tensors.find((t) => t.name === expected.name)!;
        const traits = ggmlType(info.type)!;
        const src = new Uint8Array(file.buffer, file.byteOffset + info.fileOffset, info.nbytes);
        const blocks = info.elements / traits.blockSize;
        const label = `${fixture.id} ${info.name} (${traits.name})`;
        const simd = new Float32Array(info.elements);
        simdKernel(traits.id)!(src, simd, blocks);
        assert.equal(sha256(simd), expected.f32_sha256, `${label}, SIMD`);
        const own = simdOutputBuffer(info.elements * 4);
        const inPlace = new Float32Array(own.buffer, own.byteOffset, info.elements);
        simdKernel(traits.id)!(src, inPlace, blocks);
        assert.equal(sha256(inPlace), expected.f32_sha256, `${label}, SIMD in place`);
        const intoKernelFloats = dequantize(traits.id, src, kernelFloats(info.elements));
        assert.equal(sha256(intoKernelFloats), expected.f32_sha256, `${label}, kernelFloats()`);
        const portable = new Float32Array(info.elements);
        dequantizerOf(traits.id)!.portable(src, portable, blocks, true);
        assert.equal(sha256(portable), expected.f32_sha256, `${label}, portable`);
        seen.add(traits.name);
      }
    }
    assert.deepEqual([...seen].sort(), [...SIMD_TYPES].sort(), "the fixtures hold every type");
  },
);

test("kernelFloats() gives zeroed arrays of any length to 2^30, and refuses others", () => {
  for (const count of [0, 1, 32, 100_000]) {
    const values = kernelFloats(count);
    assert.equal(values.length, count);
    assert.ok(values.every((v) => v === 0));
  }
  // Two arrays never share memory.
  const [a, b] = [kernelFloats(64), kernelFloats(64)];
  a.fill(1);
  assert.ok(b.every((v) => v === 0));
  for (const count of [-1, 1.5, NaN, 2 ** 30 + 1, Infinity]) {
    assert.throws(() => kernelFloats(count), TypeError, String(count));
  }
});

/** The SHA-256 of every tensor of the sample model dequantized, in order (script text). */
const SAMPLE_DIGEST = `
  const hash = createHash("sha256");
  for (const info of header.tensors) {
    if (dequantizerOf(info.type) === undefined) continue;
    const bytes = file.subarray(info.fileOffset, info.fileOffset + info.nbytes);
    const values = dequantize(info.type, bytes);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  const digest = hash.digest("hex");
`;

test("without WebAssembly the portable kernels run, giving the same bytes", async () => {
  const sample = join(ROOT, "samples", "tiny-llama.gguf");
  const header = await readGguf(sample);
  const file = readFileSync(sample);
  const { dequantize } = await import("../mod.ts");
  const { createHash } = await import("node:crypto");
  const want: string = new Function(
    "header",
    "file",
    "dequantize",
    "dequantizerOf",
    "createHash",
    SAMPLE_DIGEST + "return digest;",
  )(header, file, dequantize, dequantizerOf, createHash);
  const dir = mkdtempSync(join(tmpdir(), "gguf-simd-"));
  try {
    const printed = runWithoutWebAssembly(
      dir,
      `      const { dequantize, readGguf } = await import(${moduleUrl("mod.ts")});
      const { dequantizerOf } = await import(${moduleUrl("src/convert/kernels.ts")});
      const { createHash } = await import("node:crypto");
      const { readFileSync } = await import("node:fs");
      const header = await readGguf(${JSON.stringify(sample)});
      const file = readFileSync(${JSON.stringify(sample)});
      ${SAMPLE_DIGEST}
      console.log(typeof WebAssembly, digest);
      `,
    );
    assert.equal(printed, `undefined ${want}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (
  const [name, id, portable, bytes] of [
    ["Q8_0", 8, quantizeRowQ8_0, 34],
    ["Q4_0", 2, quantizeRowQ4_0, 18],
  ] as const
) {
  test(`the SIMD ${name} quantizer gives the portable one's bytes, NaN, infinities and ties included`, () => {
    const quantize = simdQuantizer(id, portable);
    assert.ok(quantize !== undefined, `WebAssembly SIMD runs in ${RUNTIME}`);
    let state = 12345;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 4294967296;
    };
    const blocks = 20_000;
    const values = new Float32Array(blocks * 32);
    const bits = new Uint32Array(values.buffer);
    for (let b = 0; b < blocks; b++) {
      for (let j = 0, i = b * 32; j < 32; j++, i++) {
        switch (b % 8) {
          case 0: // any bit pattern: NaNs, infinities, subnormals
            bits[i] = (next() * 4294967296) >>> 0;
            break;
          case 1: // ties: halves up to ±127, and a largest magnitude of either sign, repeated
            values[i] = j === 5 || j === 9
              ? (b % 16 === 1 ? -127 : 127)
              : (Math.round(next() * 508) - 254) / 2;
            break;
          case 2: // scales whose inverse overflows, and subnormals
            values[i] = (next() - 0.5) * (j % 2 ? 1e-38 : 1e-44);
            break;
          case 3: // scales past the largest half
            values[i] = (next() - 0.5) * 6e38;
            break;
          case 4: // zeros of both signs
            values[i] = j === 3 ? -0 : 0;
            break;
          default:
            values[i] = (next() - 0.5) * Math.exp((next() - 0.5) * 20);
        }
      }
    }
    const want = new Uint8Array(blocks * bytes);
    portable(values, want, blocks);
    const got = new Uint8Array(blocks * bytes);
    quantize(values, got, blocks);
    const at = got.findIndex((byte, i) => byte !== want[i]);
    assert.equal(at, -1, `block ${Math.floor(at / bytes)} (case ${Math.floor(at / bytes) % 8})`);
    // The same from values in a buffer of the module's own memory (the requantization pass).
    const own = simdOutputBuffer(values.byteLength);
    const inPlace = new Float32Array(own.buffer, own.byteOffset, values.length);
    inPlace.set(values);
    got.fill(0);
    quantize(inPlace, got, blocks);
    assert.deepEqual(got, want);
  });
}

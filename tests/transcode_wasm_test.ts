/**
 * The transcoders in WebAssembly (asm/src/transcode.ts): the committed module is what its
 * source compiles to; Q4_0, Q5_0, IQ4_NL, IQ4_XS and MXFP4 into Q8_0, Q4_K into Q4_1 and
 * Q5_K into Q5_1 give the portable kernels' bytes on random blocks with edge scales (zeros,
 * subnormals, the largest halves, ±Inf, NaNs; every E8M0 byte), at odd byte offsets and
 * across the module's pieces, and on every fixture tensor of those types; and the lossless
 * three's Σx² (what a measured conversion adds) is the portable one exactly and the sum
 * over ggml's to_float values (the portable dequantizers, which give ggml's) up to the
 * order of the additions. Where WebAssembly cannot run, the table holds the portable
 * kernels.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compile, MODULES, wasmModuleText } from "../asm/build.ts";
import { ggmlType } from "../mod.ts";
import { dequantizerOf } from "../src/convert/kernels.ts";
import { squaresIq4Nl } from "../src/convert/transcode/iq4_to_q8_0.ts";
import { squaresQ4_0, squaresQ5_0 } from "../src/convert/transcode/legacy_to_q8_0.ts";
import { simdSquares, simdTranscoder } from "../src/convert/simd/transcode_kernels.ts";
import { type SquaresKernel, transcoderOf } from "../src/convert/transcode/transcoders.ts";
import { conformance, fixtureBytes, listFixtures } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";
import { moduleUrl, runWithoutWebAssembly } from "./_no_wasm.ts";
import { RUNTIME } from "../src/runtime/current.ts";
import { randomBlocks } from "./_random_blocks.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ASC = join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js");

/** Source and target type ids of each pair with a WebAssembly kernel, its half offsets. */
const PAIRS: readonly (readonly [number, number, readonly number[]])[] = [
  [2, 8, [0]], // Q4_0
  [6, 8, [0]], // Q5_0
  [20, 8, [0]], // IQ4_NL
  [23, 8, [0]], // IQ4_XS
  [39, 8, []], // MXFP4 (every E8M0 byte is a scale)
  [12, 3, [0, 2]], // Q4_K → Q4_1
  [13, 7, [0, 2]], // Q5_K → Q5_1
];

/** The portable Σx² of the lossless pairs into Q8_0, by source id. */
const SQUARES: ReadonlyMap<number, SquaresKernel> = new Map([
  [2, squaresQ4_0],
  [6, squaresQ5_0],
  [20, squaresIq4Nl],
]);

test(
  "the committed WebAssembly is what asm/src/transcode.ts compiles to",
  { skip: existsSync(ASC) ? false : "assemblyscript is not installed (npm ci)" },
  () => {
    const module = MODULES.find((m) => m.source === "asm/src/transcode.ts")!;
    const committed = readFileSync(join(ROOT, "src/convert/simd", module.target), "utf8");
    assert.equal(committed, wasmModuleText(compile(module.source), module));
  },
);

/** Σx² over the finite to_float values of the blocks, in value order. */
function dequantizedSquares(id: number, src: Uint8Array): number {
  const traits = ggmlType(id)!;
  const blocks = src.length / traits.bytesPerBlock;
  const values = new Float32Array(blocks * traits.blockSize);
  dequantizerOf(traits)!.portable(src, values, blocks, true);
  let sum = 0;
  for (const v of values) if (Number.isFinite(v)) sum += v * v;
  return sum;
}

/** Asserts the pair's kernels (and sums) agree on `src` (whole source blocks). */
function check(from: number, to: number, src: Uint8Array, where: string) {
  const transcoder = transcoderOf(from, to)!;
  const source = ggmlType(from)!;
  const target = ggmlType(to)!;
  const blocks = src.length / source.bytesPerBlock;
  const length = (blocks * source.blockSize / target.blockSize) * target.bytesPerBlock;
  const got = new Uint8Array(length);
  const want = new Uint8Array(length);
  transcoder.kernel(src, got, blocks);
  transcoder.portable!(src, want, blocks);
  assert.deepEqual(got, want, where);
  const portableSquares = SQUARES.get(from);
  if (portableSquares === undefined) return;
  // Added to a running sum, as the chunk loop's pieces are.
  assert.equal(transcoder.squares!(src, blocks, 0.5), portableSquares(src, blocks, 0.5), where);
  const sum = transcoder.squares!(src, blocks, 0);
  assert.equal(sum, portableSquares(src, blocks, 0), where);
  const reference = dequantizedSquares(from, src);
  assert.ok(
    Math.abs(sum - reference) <= 1e-12 * reference,
    `${where}: Σx² ${sum}, dequantized ${reference}`,
  );
}

test("the WebAssembly transcoders run here, with Σx² for the lossless pairs", () => {
  for (const [from, to] of PAIRS) {
    const transcoder = transcoderOf(from, to)!;
    const where = `${from}>${to}: WebAssembly runs in ${RUNTIME}`;
    assert.ok(simdTranscoder(from, to, transcoder.portable!) !== undefined, where);
    assert.equal(simdSquares(from) !== undefined, SQUARES.has(from), where);
    assert.equal(transcoder.squares !== undefined, SQUARES.has(from));
  }
  assert.equal(simdTranscoder(2, 3, () => {}), undefined); // Q4_0 → Q4_1: none
});

test("the WebAssembly transcoders give the portable bytes on random blocks with edge scales", () => {
  for (const [from, to, halves] of PAIRS) {
    const bytesPerBlock = ggmlType(from)!.bytesPerBlock;
    const name = `${ggmlType(from)!.name}>${ggmlType(to)!.name}`;
    // One block, some, a piece and a bit (48 KiB of blocks a piece), at odd offsets.
    for (const [bytes, offset] of [[1, 1], [700, 3], [(48 << 10) + 1000, 0], [150_000, 2]]) {
      for (let seed = 1; seed <= 3; seed++) {
        const src = randomBlocks(bytesPerBlock, halves, {
          bytes: Math.max(bytes, bytesPerBlock),
          seed: seed * 7919 + from,
          offset,
        });
        if (from === 39) {
          // Some MXFP4 blocks of zero codes only (every scale is finite).
          for (let at = 0; at < src.length; at += 17 * 5) src.fill(0, at + 1, at + 17);
        }
        check(from, to, src, `${name} ${src.length} bytes, seed ${seed}`);
      }
    }
  }
});

test(
  "the WebAssembly transcoders give the portable bytes on every fixture tensor",
  conformance,
  () => {
    const checked = new Map<number, number>();
    for (const f of listFixtures()) {
      const bytes = fixtureBytes(f);
      if (bytes[4] === 0) continue; // big-endian halves: Σx² reads little-endian ones
      for (const tensor of f.expected.tensors) {
        const pair = PAIRS.find(([id]) => id === tensor.type_id);
        if (pair === undefined) continue;
        const start = f.expected.data_offset + tensor.offset;
        check(
          pair[0],
          pair[1],
          bytes.subarray(start, start + tensor.nbytes),
          `${f.id} ${tensor.name}`,
        );
        checked.set(pair[0], (checked.get(pair[0]) ?? 0) + 1);
      }
    }
    for (const [id] of PAIRS) assert.ok((checked.get(id) ?? 0) > 0, `no fixture tensor of ${id}`);
  },
);

test("without WebAssembly the transcoder table holds the portable kernels, same bytes", () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-transcode-"));
  try {
    const want: string[] = [];
    for (const [from, to, halves] of PAIRS) {
      const src = randomBlocks(ggmlType(from)!.bytesPerBlock, halves, { bytes: 20_000, seed: 5 });
      writeFileSync(join(dir, `${from}.bin`), src);
      const source = ggmlType(from)!;
      const target = ggmlType(to)!;
      const blocks = src.length / source.bytesPerBlock;
      const out = new Uint8Array(
        (blocks * source.blockSize / target.blockSize) * target.bytesPerBlock,
      );
      transcoderOf(from, to)!.portable!(src, out, blocks);
      const squares = SQUARES.get(from)?.(src, blocks, 0);
      want.push(`${sha256(out)}:${squares}`);
    }
    const printed = runWithoutWebAssembly(
      dir,
      `      const { transcoderOf } = await import(${
        moduleUrl("src/convert/transcode/transcoders.ts")
      });
      const { simdSquares, simdTranscoder } = await import(${
        moduleUrl("src/convert/simd/transcode_kernels.ts")
      });
      const { ggmlType } = await import(${moduleUrl("src/model/ggml_type.ts")});
      const { sha256 } = await import(${moduleUrl("tests/_hash.ts")});
      const { readFileSync } = await import("node:fs");
      const lines = [];
      for (const [from, to] of ${JSON.stringify(PAIRS.map(([from, to]) => [from, to]))}) {
        const t = transcoderOf(from, to);
        if (simdTranscoder(from, to, t.portable) !== undefined || simdSquares(from) !== undefined) {
          throw new Error("WebAssembly kernel");
        }
        const src = new Uint8Array(readFileSync(${JSON.stringify(dir)} + "/" + from + ".bin"));
        const a = ggmlType(from), b = ggmlType(to);
        const blocks = src.length / a.bytesPerBlock;
        const out = new Uint8Array((blocks * a.blockSize / b.blockSize) * b.bytesPerBlock);
        t.kernel(src, out, blocks);
        lines.push(sha256(out) + ":" + t.squares?.(src, blocks, 0));
      }
      console.log(typeof WebAssembly, lines.join(" "));
      `,
    );
    assert.equal(printed, `undefined ${want.join(" ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

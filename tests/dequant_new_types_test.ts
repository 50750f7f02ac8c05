import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ggmlType, readGguf, type TensorInfo } from "../mod.ts";
import {
  E8M0_TO_F32_HALF,
  KVALUES_FP4,
  UE4M3_TO_F32_HALF,
} from "../src/convert/dequant/_fp4_tables.ts";
import { TQ1_TRITS } from "../src/convert/dequant/_tq1_trits.ts";
import { dequantizeRowMxfp4, dequantizeRowNvfp4 } from "../src/convert/dequant/fp4.ts";
import { dequantizeRowQ1_0, dequantizeRowQ2_0 } from "../src/convert/dequant/q1_q2.ts";
import { dequantizeRowTq1_0, dequantizeRowTq2_0 } from "../src/convert/dequant/tq.ts";
import { conformance, listFixtures } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

type Kernel = (src: Uint8Array, dst: Float32Array, blocks: number) => void;

const KERNELS: Record<string, Kernel> = {
  TQ1_0: dequantizeRowTq1_0,
  TQ2_0: dequantizeRowTq2_0,
  MXFP4: dequantizeRowMxfp4,
  NVFP4: dequantizeRowNvfp4,
  Q1_0: dequantizeRowQ1_0,
  Q2_0: dequantizeRowQ2_0,
};

interface Case {
  label: string;
  info: TensorInfo;
  bytes: Uint8Array;
  kernel: Kernel;
  blockSize: number;
  bytesPerBlock: number;
  sha256: string;
  head: (number | null)[];
}

/** Every tensor of a type in {@linkcode KERNELS}, in every fixture, with ggml's answer. */
async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const fixture of listFixtures()) {
    const wanted = fixture.expected.tensors.filter((t) => KERNELS[t.type] !== undefined);
    if (wanted.length === 0) continue;
    const file = readFileSync(fixture.path);
    const header = await readGguf(fixture.path);
    for (const expected of wanted) {
      const info = header.tensors.find((t) => t.name === expected.name)!;
      const traits = ggmlType(info.type)!;
      assert.equal(traits.name, expected.type, `${fixture.id} ${info.name} type`);
      out.push({
        label: `${fixture.id} ${info.name} (${expected.type})`,
        info,
        bytes: new Uint8Array(file.buffer, file.byteOffset + info.fileOffset, info.nbytes),
        kernel: KERNELS[expected.type],
        blockSize: traits.blockSize,
        bytesPerBlock: traits.bytesPerBlock,
        sha256: expected.f32_sha256!,
        head: expected.head!,
      });
    }
  }
  return out;
}

function dequantizeWhole(c: Case): Float32Array {
  const out = new Float32Array(c.info.elements);
  c.kernel(c.bytes, out, c.info.elements / c.blockSize);
  return out;
}

test(
  "TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0 and Q2_0 kernels give ggml's float32 bits for every fixture tensor",
  conformance,
  async () => {
    const all = await cases();
    assert.deepEqual(
      [...new Set(all.map((c) => c.info.typeName))].sort(),
      Object.keys(KERNELS).sort(),
      "the fixtures hold every new type",
    );
    for (const c of all) {
      assert.equal(c.bytes.length, c.info.elements / c.blockSize * c.bytesPerBlock, c.label);
      const out = dequantizeWhole(c);
      const head = c.head.map((v) => v === null ? NaN : Math.fround(v));
      assert.deepEqual(Array.from(out.subarray(0, head.length)), head, `${c.label} head`);
      assert.equal(sha256(out), c.sha256, `${c.label} f32_sha256`);
    }
  },
);

test(
  "the new kernels give the same values row by row as for a whole tensor",
  conformance,
  async () => {
    for (const c of await cases()) {
      const whole = dequantizeWhole(c);
      const rowLength = c.info.shape[0];
      const rows = c.info.elements / rowLength;
      const blocksPerRow = rowLength / c.blockSize;
      const rowBytes = blocksPerRow * c.bytesPerBlock;
      // A copy at an odd byte offset, and an output row with a sentinel after its end.
      const shifted = new Uint8Array(c.bytes.length + 1).subarray(1);
      shifted.set(c.bytes);
      const row = new Float32Array(rowLength + 1);
      for (let r = 0; r < rows; r++) {
        row[rowLength] = 12345;
        c.kernel(shifted.subarray(r * rowBytes, (r + 1) * rowBytes), row, blocksPerRow);
        assert.equal(row[rowLength], 12345, `${c.label} row ${r} writes past its end`);
        assert.deepEqual(
          new Uint8Array(row.buffer, 0, rowLength * 4),
          new Uint8Array(whole.buffer, r * rowLength * 4, rowLength * 4),
          `${c.label} row ${r}`,
        );
      }
    }
  },
);

// Checksums of each table's bytes as ggml has them, computed outside this project by a C
// program that includes ggml's src/ggml-common.h and calls ggml_e8m0_to_fp32_half and
// ggml_ue4m3_to_fp32 from src/ggml-impl.h (ggml commit d99724f2), writing the values as
// little-endian bytes.
const KVALUES_FP4_SHA256 = "adf76b672d47eb7fc0afd4db132d548d59d3190aa0ad118fdbf569d5fd478f97";
const E8M0_TO_F32_HALF_SHA256 = "ce2e76164e8f7ad49e6c322ac935defdae65f2286a654765fdc00caf29ab37bd";
const UE4M3_TO_F32_HALF_SHA256 = "a3a15eb7d463cdbe19dc9da9fdfc3b3410e7b173efeb67e700a57200606a63ad";

test("KVALUES_FP4 holds ggml's kvalues_mxfp4", () => {
  assert.equal(KVALUES_FP4.length, 16);
  assert.equal(sha256(KVALUES_FP4), KVALUES_FP4_SHA256);
});

test("E8M0_TO_F32_HALF holds ggml_e8m0_to_fp32_half of every byte", () => {
  assert.equal(E8M0_TO_F32_HALF.length, 256);
  assert.equal(sha256(E8M0_TO_F32_HALF), E8M0_TO_F32_HALF_SHA256);
  for (let e = 0; e < 256; e++) assert.equal(E8M0_TO_F32_HALF[e], 2 ** (e - 128), `byte ${e}`);
});

test("UE4M3_TO_F32_HALF holds ggml_ue4m3_to_fp32 of every byte", () => {
  assert.equal(UE4M3_TO_F32_HALF.length, 256);
  assert.equal(sha256(UE4M3_TO_F32_HALF), UE4M3_TO_F32_HALF_SHA256);
  // Halved values from the OCP E4M3 definition: 0x38 is 1.0, 0x7e the largest (448),
  // 0x01 the smallest subnormal (2^-9); ggml reads 0x7f (NaN) as 0 and ignores bit 7
  // otherwise, so 0xff is 480 halved.
  const spots: [number, number][] = [
    [0x00, 0],
    [0x01, 2 ** -10],
    [0x07, 7 * 2 ** -10],
    [0x08, 2 ** -7],
    [0x38, 0.5],
    [0x3c, 0.75],
    [0x7e, 224],
    [0x7f, 0],
    [0x80, 0],
    [0xb8, 0.5],
    [0xff, 240],
  ];
  for (const [byte, value] of spots) assert.equal(UE4M3_TO_F32_HALF[byte], value, `byte ${byte}`);
});

// Computed by a C program from the expression in ggml's dequantize_row_tq1_0 (digit n of
// byte x, minus 1, for x = 0..255 and n = 0..4, as int8).
const TQ1_TRITS_SHA256 = "8a65ca007338e5e8e083d6c5fd2fe08be86e8ab665a73627230a4a483c6e0fd7";

test("TQ1_TRITS decodes every TQ1_0 byte as ggml does", () => {
  assert.equal(TQ1_TRITS.length, 256 * 5);
  assert.equal(sha256(TQ1_TRITS), TQ1_TRITS_SHA256);
  // ggml packs five trits as v = Σ tₙ·3^(4−n) and stores ⌈256·v / 243⌉; reading the byte
  // back must give the base-3 digits of v, most significant first.
  for (let v = 0; v < 243; v++) {
    const byte = Math.ceil(v * 256 / 243);
    const digits = [4, 3, 2, 1, 0].map((p) => Math.floor(v / 3 ** p) % 3 - 1);
    assert.deepEqual(Array.from(TQ1_TRITS.subarray(byte * 5, byte * 5 + 5)), digits, `v ${v}`);
  }
});

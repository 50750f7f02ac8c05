import assert from "node:assert/strict";
import { test } from "node:test";
import { readGguf } from "../mod.ts";
import { IQ1S_DELTA, IQ1S_GRID } from "../src/convert/dequant/_iq1_tables.ts";
import {
  IQ2S_GRID,
  IQ2XS_GRID,
  IQ2XXS_GRID,
  KMASK_IQ2XS,
  KSIGNS_IQ2XS,
} from "../src/convert/dequant/_iq2_tables.ts";
import { IQ3S_GRID, IQ3XXS_GRID } from "../src/convert/dequant/_iq3_tables.ts";
import {
  BLOCK_IQ1_M_BYTES,
  BLOCK_IQ1_S_BYTES,
  dequantizeRowIq1M,
  dequantizeRowIq1S,
} from "../src/convert/dequant/iq1.ts";
import {
  BLOCK_IQ2_S_BYTES,
  BLOCK_IQ2_XS_BYTES,
  BLOCK_IQ2_XXS_BYTES,
  dequantizeRowIq2S,
  dequantizeRowIq2Xs,
  dequantizeRowIq2Xxs,
} from "../src/convert/dequant/iq2.ts";
import {
  BLOCK_IQ3_S_BYTES,
  BLOCK_IQ3_XXS_BYTES,
  dequantizeRowIq3S,
  dequantizeRowIq3Xxs,
} from "../src/convert/dequant/iq3.ts";
import { conformance, fixtureBytes, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

type Kernel = (src: Uint8Array, dst: Float32Array, blocks: number) => void;

/** The kernels under test by ggml type id, with their block sizes in bytes. */
const KERNELS = new Map<number, { name: string; kernel: Kernel; blockBytes: number }>([
  [16, { name: "IQ2_XXS", kernel: dequantizeRowIq2Xxs, blockBytes: BLOCK_IQ2_XXS_BYTES }],
  [17, { name: "IQ2_XS", kernel: dequantizeRowIq2Xs, blockBytes: BLOCK_IQ2_XS_BYTES }],
  [18, { name: "IQ3_XXS", kernel: dequantizeRowIq3Xxs, blockBytes: BLOCK_IQ3_XXS_BYTES }],
  [19, { name: "IQ1_S", kernel: dequantizeRowIq1S, blockBytes: BLOCK_IQ1_S_BYTES }],
  [21, { name: "IQ3_S", kernel: dequantizeRowIq3S, blockBytes: BLOCK_IQ3_S_BYTES }],
  [22, { name: "IQ2_S", kernel: dequantizeRowIq2S, blockBytes: BLOCK_IQ2_S_BYTES }],
  [29, { name: "IQ1_M", kernel: dequantizeRowIq1M, blockBytes: BLOCK_IQ1_M_BYTES }],
]);

const QK_K = 256;

/** Every tensor of a type in {@linkcode KERNELS}, with its packed bytes and the oracle's digest. */
async function iqTensors() {
  const out = [];
  for (const f of listFixtures()) {
    if (!f.expected.tensors.some((t) => KERNELS.has(t.type_id))) continue;
    const bytes = fixtureBytes(f);
    const file = await readGguf(bytes, { lenient: STRICT_REFUSALS[f.id] !== undefined });
    assert.ok(file.littleEndian, f.id);
    for (const [i, info] of file.tensors.entries()) {
      const entry = KERNELS.get(info.type);
      if (entry === undefined) continue;
      const want = f.expected.tensors[i];
      assert.equal(want.name, info.name);
      out.push({
        id: `${f.id} ${info.name} (${entry.name})`,
        type: info.type,
        ...entry,
        shape: info.shape,
        elements: info.elements,
        data: bytes.subarray(info.fileOffset, info.fileOffset + info.nbytes),
        want,
      });
    }
  }
  return out;
}

test(
  "IQ1/IQ2/IQ3 kernels are bit-exact with ggml for every fixture tensor",
  conformance,
  async () => {
    const seen = new Set<number>();
    for (const t of await iqTensors()) {
      const blocks = t.elements / QK_K;
      assert.equal(t.data.length, blocks * t.blockBytes, t.id);
      const out = new Float32Array(t.elements);
      t.kernel(t.data, out, blocks);
      // `head` is printed with 9 significant digits, enough to round-trip a float32.
      const head = (t.want.head ?? []).map((v) => v === null ? NaN : Math.fround(v));
      assert.deepEqual([...out.subarray(0, 8)], head, `${t.id} first values`);
      assert.equal(sha256(out), t.want.f32_sha256, t.id);
      seen.add(t.type);
    }
    assert.deepEqual([...seen].sort((a, b) => a - b), [...KERNELS.keys()], "every type is covered");
  },
);

test(
  "IQ1/IQ2/IQ3 kernels give the same values row by row as for a whole tensor",
  conformance,
  async () => {
    for (const t of await iqTensors()) {
      const blocks = t.elements / QK_K;
      const whole = new Float32Array(t.elements);
      t.kernel(t.data, whole, blocks);
      const rowBlocks = t.shape[0] / QK_K;
      const rows = new Float32Array(t.elements);
      for (let r = 0; r < blocks / rowBlocks; r++) {
        const start = r * rowBlocks;
        t.kernel(
          t.data.subarray(start * t.blockBytes, (start + rowBlocks) * t.blockBytes),
          rows.subarray(start * QK_K, (start + rowBlocks) * QK_K),
          rowBlocks,
        );
      }
      assert.equal(sha256(rows), sha256(whole), t.id);
    }
  },
);

test("IQ lookup tables hold exactly ggml's values", () => {
  // [ggml name, table, entries, bytes per entry, sha256 of the bytes]. Expected lengths
  // and digests were computed from the initializers in ggml's
  // src/ggml-common.h (commit d99724f2b141fed9e1a9f402213506c081433465), as little-endian
  // bytes of each entry, independently of the TypeScript tables.
  const tables: [string, ArrayBufferView, number, number, string][] = [
    [
      "kmask_iq2xs",
      KMASK_IQ2XS,
      8,
      1,
      "5ac9831b2e30eb285ef34f8501620f878432d5c04331ad1ae47f977a83ba41a5",
    ],
    [
      "ksigns_iq2xs",
      KSIGNS_IQ2XS,
      128,
      1,
      "a76742a603f8beca5212ecce0f1f02f11a4887fd2f7c8b15aca0ea3eb3380c31",
    ],
    [
      "iq2xxs_grid",
      IQ2XXS_GRID,
      256,
      8,
      "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54",
    ],
    [
      "iq2xs_grid",
      IQ2XS_GRID,
      512,
      8,
      "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de",
    ],
    [
      "iq2s_grid",
      IQ2S_GRID,
      1024,
      8,
      "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88",
    ],
    [
      "iq3xxs_grid",
      IQ3XXS_GRID,
      256,
      4,
      "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d",
    ],
    [
      "iq3s_grid",
      IQ3S_GRID,
      512,
      4,
      "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f",
    ],
    [
      "iq1s_grid",
      IQ1S_GRID,
      2048,
      8,
      "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a",
    ],
  ];
  for (const [name, table, entries, entryBytes, digest] of tables) {
    assert.equal(table.byteLength, entries * entryBytes, `${name} length`);
    assert.equal(sha256(table), digest, `${name} sha256`);
  }
  assert.equal(IQ1S_DELTA, 0.125);
});

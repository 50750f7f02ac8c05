/**
 * Bad input, enumerated the way llama.cpp's tests/test-gguf.cpp does: one crafted defect
 * per case, built here from a valid fixture; every case must be a GgufError with the
 * right code, never another exception.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GgufError, type GgufErrorCode, type GgufFile, readGguf } from "../mod.ts";
import { ggufToJson } from "../src/cli/gguf_json.ts";
import { conformance, fixture, fixtureBytes, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";

const encoder = new TextEncoder();

/** Byte offsets of one tensor-index entry's fields (GGUF v2/v3 layout). */
function tensorFields(file: GgufFile, index: number) {
  const info = file.tensors[index];
  const nameAt = info.indexOffset + 8;
  const dimsAt = nameAt + encoder.encode(info.name).length;
  const typeAt = dimsAt + 4 + 8 * info.shape.length;
  return { nameAt, dimsAt, firstDimAt: dimsAt + 4, typeAt, offsetAt: typeAt + 4 };
}

/** Byte offsets of one metadata entry's fields. */
function entryFields(file: GgufFile, key: string) {
  const entry = file.metadata.get(key)!;
  const keyAt = entry.offset + 8;
  const typeAt = keyAt + encoder.encode(key).length;
  return { keyAt, typeAt, valueAt: typeAt + 4 };
}

async function expectCode(bytes: Uint8Array, code: GgufErrorCode, what: string): Promise<void> {
  await assert.rejects(readGguf(bytes), (error: unknown) => {
    assert.ok(error instanceof GgufError, `${what}: expected a GgufError, got ${error}`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
    assert.ok(error.offset === undefined || error.offset <= bytes.length, `${what}: offset`);
    return true;
  });
}

interface Defect {
  name: string;
  code: GgufErrorCode;
  apply(bytes: Uint8Array, view: DataView, file: GgufFile): void;
  /** ggml refuses it, but a lenient reading accepts it. */
  lenient?: true;
  /** Bytes to append to the file first (room for data moved past its end). */
  grow?: number;
}

/** A copy of `original` to damage, with the room `defect` asks for. */
function copyFor(original: Uint8Array, defect: Defect): Uint8Array {
  const bytes = new Uint8Array(original.length + (defect.grow ?? 0));
  bytes.set(original);
  return bytes;
}

/** Index of the tensor called `name`. */
function tensorIndex(file: GgufFile, name: string): number {
  const index = file.tensors.findIndex((t) => t.name === name);
  assert.ok(index >= 0, name);
  return index;
}

const DEFECTS: Defect[] = [
  { name: "bad magic", code: "BAD_MAGIC", apply: (b) => void (b[0] = 0x46) },
  { name: "version 0", code: "UNSUPPORTED_VERSION", apply: (_b, v) => v.setUint32(4, 0, true) },
  { name: "version 4", code: "UNSUPPORTED_VERSION", apply: (_b, v) => v.setUint32(4, 4, true) },
  {
    name: "tensor count that cannot fit",
    code: "LIMIT_EXCEEDED",
    apply: (_b, v) => v.setBigUint64(8, 1n << 40n, true),
  },
  {
    name: "metadata count that cannot fit",
    code: "LIMIT_EXCEEDED",
    apply: (_b, v) => v.setBigUint64(16, 1n << 30n, true),
  },
  {
    name: "metadata count past 2^53",
    code: "LIMIT_EXCEEDED",
    apply: (_b, v) => v.setBigUint64(16, 1n << 60n, true),
  },
  {
    name: "key length past the end",
    code: "TRUNCATED",
    apply: (_b, v, f) => v.setBigUint64(f.metadata.get("general.name")!.offset, 1n << 40n, true),
  },
  {
    name: "string value length past the end",
    code: "TRUNCATED",
    apply: (_b, v, f) => v.setBigUint64(entryFields(f, "general.name").valueAt, 1n << 33n, true),
  },
  {
    name: "array length past the end",
    code: "TRUNCATED",
    apply: (_b, v, f) =>
      v.setBigUint64(entryFields(f, "test.array_int32").valueAt + 4, 1n << 36n, true),
  },
  {
    name: "unknown value type",
    code: "BAD_VALUE_TYPE",
    apply: (_b, v, f) => v.setUint32(entryFields(f, "test.uint8").typeAt, 13, true),
  },
  {
    name: "unknown array element type",
    code: "BAD_VALUE_TYPE",
    apply: (_b, v, f) => v.setUint32(entryFields(f, "test.array_int32").valueAt, 77, true),
  },
  {
    name: "duplicate key",
    code: "DUPLICATE_KEY",
    apply: (b, _v, f) => b.set(encoder.encode("test.uint8"), entryFields(f, "test.int16").keyAt),
  },
  {
    name: "alignment that is not a power of two",
    code: "BAD_ALIGNMENT",
    apply: (_b, v, f) => v.setUint32(entryFields(f, "general.alignment").valueAt, 48, true),
  },
  {
    name: "alignment 0",
    code: "BAD_ALIGNMENT",
    apply: (_b, v, f) => v.setUint32(entryFields(f, "general.alignment").valueAt, 0, true),
  },
  // No dimensions is one element for ggml (tests/ggml_parity_test.ts), not a defect.
  {
    name: "a negative dimension (read unsigned: past 2^53)",
    code: "LIMIT_EXCEEDED",
    apply: (_b, v, f) => v.setBigInt64(tensorFields(f, 0).firstDimAt, -1n, true),
  },
  {
    name: "five dimensions",
    code: "BAD_SHAPE",
    apply: (_b, v, f) => v.setUint32(tensorFields(f, 0).dimsAt, 5, true),
  },
  {
    name: "element count that overflows",
    code: "BAD_SHAPE",
    apply: (_b, v, f) => {
      const { firstDimAt } = tensorFields(f, 0); // token_embd.weight, 2-D
      v.setBigUint64(firstDimAt, 1n << 40n, true);
      v.setBigUint64(firstDimAt + 8, 1n << 40n, true);
    },
  },
  {
    name: "row length not a multiple of the block size",
    code: "BAD_BLOCK_SIZE",
    apply: (_b, v, f) => v.setBigUint64(tensorFields(f, 0).firstDimAt, 33n, true),
  },
  {
    name: "removed tensor type id",
    code: "UNSUPPORTED_TYPE",
    apply: (_b, v, f) => v.setUint32(tensorFields(f, 1).typeAt, 4, true),
  },
  {
    name: "unknown tensor type id",
    code: "UNSUPPORTED_TYPE",
    apply: (_b, v, f) => v.setUint32(tensorFields(f, 1).typeAt, 4000, true),
  },
  {
    name: "tensor data past the end of the file",
    code: "OUT_OF_BOUNDS",
    apply: (_b, v, f) =>
      v.setBigUint64(tensorFields(f, f.tensors.length - 1).offsetAt, 1n << 20n, true),
  },
  {
    name: "tensor offset past 2^53",
    code: "LIMIT_EXCEEDED",
    apply: (_b, v, f) => v.setBigUint64(tensorFields(f, 0).offsetAt, 1n << 62n, true),
  },
  {
    name: "unaligned tensor offset",
    code: "BAD_ALIGNMENT",
    apply: (_b, v, f) => {
      const at = tensorFields(f, 2).offsetAt;
      v.setBigUint64(at, v.getBigUint64(at, true) + 4n, true);
    },
  },
  {
    name: "overlapping tensor data",
    code: "OVERLAP",
    apply: (_b, v, f) =>
      v.setBigUint64(tensorFields(f, 2).offsetAt, BigInt(f.tensors[1].offset), true),
  },
  {
    name: "a gap before the last tensor's data",
    code: "BAD_LAYOUT",
    lenient: true,
    grow: 64,
    apply: (_b, v, f) => {
      const at = tensorFields(f, f.tensors.length - 1).offsetAt;
      v.setBigUint64(at, v.getBigUint64(at, true) + 64n, true);
    },
  },
  {
    name: "tensor data out of index order",
    code: "BAD_LAYOUT",
    lenient: true,
    apply: (_b, v, f) => {
      // Two tensors of the same size trade places in the data section.
      const a = tensorFields(f, tensorIndex(f, "blk.0.attn_norm.weight")).offsetAt;
      const b = tensorFields(f, tensorIndex(f, "blk.0.ffn_down.weight")).offsetAt;
      const offset = v.getBigUint64(a, true);
      v.setBigUint64(a, v.getBigUint64(b, true), true);
      v.setBigUint64(b, offset, true);
    },
  },
  {
    name: "general.alignment stored as INT32",
    code: "BAD_METADATA",
    lenient: true,
    apply: (_b, v, f) => v.setUint32(entryFields(f, "general.alignment").typeAt, 5, true),
  },
  {
    name: "duplicate tensor name",
    code: "DUPLICATE_TENSOR",
    apply: (b, _v, f) => {
      const q = f.tensors.findIndex((t) => t.name === "blk.0.attn_q.weight");
      const k = f.tensors.findIndex((t) => t.name === "blk.0.attn_k.weight");
      b.set(encoder.encode("blk.0.attn_q.weight"), tensorFields(f, k).nameAt);
      assert.ok(q >= 0 && k >= 0);
    },
  },
];

test("readGguf() rejects each crafted defect with its code", conformance, async () => {
  const original = fixtureBytes(fixture("gen/align64.gguf"));
  const file = await readGguf(original);
  for (const defect of DEFECTS) {
    const bytes = copyFor(original, defect);
    defect.apply(bytes, new DataView(bytes.buffer), file);
    await expectCode(bytes, defect.code, defect.name);
  }
});

test(
  "readGguf() accepts leniently the defects ggml refuses but can be read",
  conformance,
  async () => {
    const original = fixtureBytes(fixture("gen/align64.gguf"));
    const file = await readGguf(original);
    for (const defect of DEFECTS.filter((d) => d.lenient)) {
      const bytes = copyFor(original, defect);
      defect.apply(bytes, new DataView(bytes.buffer), file);
      const read = await readGguf(bytes, { lenient: true });
      assert.equal(read.tensors.length, file.tensors.length, defect.name);
      assert.equal(read.alignment, 64, defect.name);
    }
  },
);

test(
  "every fixture cut short gives a GgufError, never another exception",
  conformance,
  async () => {
    for (const f of listFixtures()) {
      const bytes = fixtureBytes(f);
      const lenient = STRICT_REFUSALS[f.id] !== undefined;
      const file = await readGguf(bytes, { lenient });
      const dataEnd = Math.max(
        file.headerSize,
        ...file.tensors.map((t) => t.fileOffset + t.nbytes),
      );
      const lengths = new Set<number>();
      for (let n = 0; n < Math.min(file.headerSize, 300); n++) lengths.add(n);
      const spread = bytes.length > 500_000 ? 12 : 60; // the multi-MB vocab headers are slow to cut often
      for (let i = 0; i < spread; i++) lengths.add(Math.floor((bytes.length * i) / spread));
      lengths.add(file.headerSize - 1);
      lengths.add(dataEnd - 1);
      for (const length of lengths) {
        const cut = bytes.subarray(0, length);
        if (length >= dataEnd) {
          await readGguf(cut, { lenient }); // a valid file: nothing past its data is needed
          continue;
        }
        await assert.rejects(readGguf(cut, { lenient }), (e: unknown) => {
          assert.ok(e instanceof GgufError, `${f.id} cut at ${length}: ${e}`);
          assert.ok(
            ["TRUNCATED", "OUT_OF_BOUNDS", "LIMIT_EXCEEDED"].includes(e.code),
            `${f.id} cut at ${length}: ${e.code}`,
          );
          return true;
        });
      }
    }
  },
);

test(
  "random byte changes in a header give a file or a GgufError, nothing else",
  conformance,
  async () => {
    const original = fixtureBytes(fixture("gen/metadata.gguf"));
    const headerSize = (await readGguf(original)).headerSize;
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 1500; i++) {
      const bytes = original.slice();
      for (let k = 0; k < 3; k++) {
        bytes[Math.floor(random() * headerSize)] = Math.floor(
          random() * 256,
        );
      }
      try {
        await readGguf(bytes);
      } catch (error) {
        assert.ok(error instanceof GgufError, `case ${i}: ${error}`);
      }
    }
  },
);

test(
  "readGguf() keeps zero-tensor files that end before the padded data offset",
  conformance,
  async () => {
    const f = fixture("real/ggml-vocab-gpt-2.gguf");
    const file = await readGguf(f.path);
    assert.ok(file.dataOffset > file.fileSize!);
    assert.equal(file.tensors.length, 0);
  },
);

/** Builds a GGUF v3 file with one metadata entry holding raw value bytes. */
function fileWithEntry(key: string, type: number, value: number[]): Uint8Array {
  const keyBytes = encoder.encode(key);
  const bytes = new Uint8Array(24 + 8 + keyBytes.length + 4 + value.length);
  const view = new DataView(bytes.buffer);
  bytes.set([0x47, 0x47, 0x55, 0x46]);
  view.setUint32(4, 3, true);
  view.setBigUint64(16, 1n, true);
  view.setBigUint64(24, BigInt(keyBytes.length), true);
  bytes.set(keyBytes, 32);
  view.setUint32(32 + keyBytes.length, type, true);
  bytes.set(value, 36 + keyBytes.length);
  return bytes;
}

function u32(n: number): number[] {
  return [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
}
function u64(n: number): number[] {
  return [...u32(n), 0, 0, 0, 0];
}

test("readGguf() reads arrays of arrays and bounds their nesting", async () => {
  // [[1, 2], [3]] as an ARRAY of ARRAY of UINT8.
  const nested = [...u32(9), ...u64(2), ...u32(0), ...u64(2), 1, 2, ...u32(0), ...u64(1), 3];
  const file = await readGguf(fileWithEntry("nested", 9, nested));
  assert.deepEqual(ggufToJson(file).metadata.nested, {
    type: "ARRAY",
    elem: "ARRAY",
    len: 2,
    value: [{ elem: "UINT8", len: 2, value: [1, 2] }, { elem: "UINT8", len: 1, value: [3] }],
  });
  let deep: number[] = [...u32(0), ...u64(0)];
  for (let i = 0; i < 12; i++) deep = [...u32(9), ...u64(1), ...deep];
  await expectCode(fileWithEntry("deep", 9, deep), "LIMIT_EXCEEDED", "deep nesting");
});

test("readGguf() keeps strings exactly, with NULs and a byte-order mark", async () => {
  const text = "\uFEFFa\u0000b";
  const raw = [...encoder.encode(text)];
  const file = await readGguf(fileWithEntry("s", 8, [...u64(raw.length), ...raw]));
  assert.equal(file.metadata.get("s")!.value, text);
});

test("refusals of counts and of general.alignment say which bound and what was found", async () => {
  const counts = (tensors: number) => {
    const bytes = new Uint8Array(1 << 20); // zeros after the counts: room for the index
    const view = new DataView(bytes.buffer);
    bytes.set([0x47, 0x47, 0x55, 0x46]);
    view.setUint32(4, 3, true);
    view.setBigUint64(8, BigInt(tensors), true);
    return bytes;
  };
  // Past the bound that holds whatever the input's size, the bound is what the message names.
  await assert.rejects(readGguf(counts(2 ** 24 + 1)), (error: GgufError) => {
    assert.equal(error.code, "LIMIT_EXCEEDED");
    assert.match(error.message, /16_777_217 tensors, more than the 16_777_216 gguf-stream reads/);
    return true;
  });
  await assert.rejects(readGguf(counts(40_000)), /but only 1_048_552 bytes remain/);
  // general.alignment as an array: described, not "[object Object]".
  const key = new TextEncoder().encode("general.alignment");
  const file = new Uint8Array(64 + key.length);
  const view = new DataView(file.buffer);
  file.set([0x47, 0x47, 0x55, 0x46]);
  view.setUint32(4, 3, true);
  view.setBigUint64(16, 1n, true); // one key, no tensors
  view.setBigUint64(24, BigInt(key.length), true);
  file.set(key, 32);
  let at = 32 + key.length;
  view.setUint32(at, 9, true); // ARRAY
  view.setUint32(at + 4, 4, true); // of UINT32
  view.setBigUint64(at + 8, 1n, true);
  view.setUint32(at + 16, 32, true);
  at += 20;
  await assert.rejects(readGguf(file.subarray(0, at)), (error: GgufError) => {
    assert.equal(error.code, "BAD_ALIGNMENT");
    assert.match(error.message, /found an ARRAY of 1 UINT32$/);
    return true;
  });
});

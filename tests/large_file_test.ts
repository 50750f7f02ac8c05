/**
 * Files over 4 GiB: a sparse file (no disk used) with a tensor placed past 2^32, read
 * through every byte source. The data before it is a gap ggml would refuse (BAD_LAYOUT),
 * so the file is read leniently: what is tested is the offsets' arithmetic. On Bun this exercises windowed mappings (Bun.mmap maps at
 * most 4 GiB at once); everywhere it checks offsets stay exact past 32 bits.
 */
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { convertGguf, GgufValueType, readGguf } from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { openByteSource } from "../sources.ts";
import { SOURCE_KINDS } from "./_sources.ts";

const FAR = 4.5 * 2 ** 30; // tensor data offset, past 4 GiB

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("not found");
}

/** Writes a sparse GGUF whose two tensors sit past 4 GiB; returns its path and their data. */
function writeSparseModel(dir: string) {
  const values = Float32Array.from({ length: 1024 }, (_, i) => i * 0.5 - 100);
  const q8 = new Uint8Array(34 * 4);
  for (let b = 0; b < 4; b++) {
    q8[b * 34] = 0x00;
    q8[b * 34 + 1] = 0x38; // d = 0.5
    for (let j = 0; j < 32; j++) q8[b * 34 + 2 + j] = (j - 16) & 0xff;
  }
  const header = encodeGgufHeader({
    alignment: 32,
    metadata: [{ key: "general.name", type: GgufValueType.STRING, value: "sparse" }],
    tensors: [
      { name: "far.f32", shape: [1024], type: 0, nbytes: 4096 },
      { name: "far.q8_0", shape: [128], type: 8, nbytes: q8.length },
    ],
  });
  // Move both tensors past 4 GiB by rewriting their offsets (laid out from 0 by the encoder).
  const bytes = header.bytes.slice();
  const view = new DataView(bytes.buffer);
  // An index entry after its name: n_dims (4), one dimension (8), type (4), then the offset.
  const offsetField = (name: string) =>
    indexOf(bytes, new TextEncoder().encode(name)) + name.length + 4 + 8 + 4;
  view.setBigUint64(offsetField("far.f32"), BigInt(FAR), true);
  view.setBigUint64(offsetField("far.q8_0"), BigInt(FAR + 4096), true);
  const path = join(dir, "sparse.gguf");
  const fd = openSync(path, "w");
  writeSync(fd, bytes, 0, bytes.length, 0);
  writeSync(fd, new Uint8Array(values.buffer), 0, 4096, header.dataOffset + FAR);
  writeSync(fd, q8, 0, q8.length, header.dataOffset + FAR + 4096);
  closeSync(fd);
  return { path, values, q8, dataOffset: header.dataOffset };
}

for (const kind of SOURCE_KINDS.filter((k) => k.name === "mmap" || k.name === "read")) {
  test(`files over 4 GiB: tensors past 2^32 read exactly through ${kind.name}`, {
    skip: kind.skip,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-large-"));
    try {
      const { path, values, q8, dataOffset } = writeSparseModel(dir);
      assert.ok(statSync(path).size > 2 ** 32);
      const source = await kind.open(path);
      try {
        await assert.rejects(readGguf(source), { code: "BAD_LAYOUT" });
        const file = await readGguf(source, { lenient: true });
        assert.equal(file.tensors[0].fileOffset, dataOffset + FAR, kind.name);
        const model = await convertGguf(source, { lenient: true, onWarning: () => {} });
        const f32 = model.tensors.get("far.f32")!;
        assert.equal(f32.typeName, "F32");
        assert.deepEqual(f32.data, values, kind.name);
        const packed = model.tensors.get("far.q8_0")!;
        assert.equal(packed.action, "keep");
        assert.deepEqual([...packed.data], [...q8], kind.name);
        assert.equal(packed.zeroCopy, kind.name === "mmap");
      } finally {
        await source.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("a positional read longer than 2^31 - 1 bytes completes, in pieces the runtime takes", {
  timeout: 60_000,
}, async () => {
  // Node's positional read aborts the process (a native assertion) on such a length, Deno's
  // and Bun's node:fs refuse it: the platform asks for less per call and goes on.
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-large-"));
  try {
    const path = join(dir, "sparse.bin");
    const length = 2 ** 31 + 16;
    const tail = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const fd = openSync(path, "w");
    writeSync(fd, tail, 0, tail.length, 1 + length - tail.length); // sparse before it
    closeSync(fd);
    const source = await openByteSource(path, { access: "read" });
    try {
      const bytes = await source.read(1, length);
      assert.equal(bytes.length, length);
      assert.deepEqual([...bytes.subarray(length - tail.length)], [...tail]);
      assert.equal(bytes[2 ** 31 - 1], 0);
    } finally {
      await source.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

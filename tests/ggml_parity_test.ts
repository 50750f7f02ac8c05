/**
 * The reader refuses what ggml's `gguf_init_from_reader()` (src/gguf.cpp) refuses and reads
 * what it reads, in the style of llama.cpp's tests/test-gguf.cpp: one defect per case, put
 * into a valid file built here; `lenient` reads the files ggml refuses.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { convertFile, convertGguf, GgufError, type GgufErrorCode, readGguf } from "../mod.ts";
import { main } from "../convert.ts";
import { ARCHITECTURE, ggufBytes, type RawEntry, type RawTensor, utf8 } from "./_gguf_bytes.ts";

const dir = mkdtempSync(join(tmpdir(), "gguf-parity-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const U32 = 4;
const F16 = 1;

/** A valid file: two keys, two tensors. */
function base(): { entries: RawEntry[]; tensors: RawTensor[] } {
  return {
    entries: [ARCHITECTURE, { key: utf8("llama.block_count"), type: U32, value: [1, 0, 0, 0] }],
    tensors: [
      { name: utf8("token_embd.weight"), shape: [4, 2] },
      { name: utf8("output_norm.weight"), shape: [4] },
    ],
  };
}

interface Case {
  name: string;
  /** The defect, applied to a fresh valid file. */
  apply(file: ReturnType<typeof base>): void;
  /** The code ggml's refusal maps to; `undefined` when ggml reads the file. */
  code?: GgufErrorCode;
}

const CASES: Case[] = [
  {
    name: "an empty key (gguf.cpp: key is empty)",
    apply: (f) => void (f.entries[1].key = []),
    code: "BAD_NAME",
  },
  {
    name: "a tensor name of 64 bytes (gguf.cpp: GGML_MAX_NAME)",
    apply: (f) => void (f.tensors[1].name = utf8("n".repeat(64))),
    code: "BAD_NAME",
  },
  {
    name: "a tensor name of 64 bytes in 32 characters",
    apply: (f) => void (f.tensors[1].name = utf8("é".repeat(32))),
    code: "BAD_NAME",
  },
  {
    name: "tensor names equal up to a NUL (gguf.cpp: strcmp)",
    apply: (f) => {
      f.tensors[0].name = [...utf8("w"), 0, ...utf8("a")];
      f.tensors[1].name = [...utf8("w"), 0, ...utf8("b")];
    },
    code: "DUPLICATE_TENSOR",
  },
  {
    name: "a tensor name of 63 bytes",
    apply: (f) => void (f.tensors[1].name = utf8("n".repeat(63))),
  },
  { name: "a dimension of 0", apply: (f) => void (f.tensors[0].shape = [4, 0]) },
  { name: "a row length of 0", apply: (f) => void (f.tensors[1].shape = [0]) },
  { name: "no dimensions", apply: (f) => void (f.tensors[1].shape = []) },
];

for (const c of CASES) {
  const file = base();
  c.apply(file);
  const bytes = ggufBytes(file.entries, file.tensors);
  if (c.code === undefined) {
    test(`readGguf() reads ${c.name}, as ggml does`, async () => {
      const header = await readGguf(bytes);
      assert.equal(header.tensors.length, 2);
    });
    continue;
  }
  test(`readGguf() refuses ${c.name} with ${c.code}; lenient reads it`, async () => {
    await assert.rejects(readGguf(bytes), (error: unknown) => {
      assert.ok(error instanceof GgufError, String(error));
      assert.equal(error.code, c.code, error.message);
      return true;
    });
    const header = await readGguf(bytes, { lenient: true });
    assert.equal(header.tensors.length, 2);
  });
}

test("a tensor with no dimensions is one element, as ggml's ne", async () => {
  const file = base();
  file.tensors[1].shape = [];
  const header = await readGguf(ggufBytes(file.entries, file.tensors));
  assert.deepEqual(header.tensors[1].shape, [1]);
  assert.equal(header.tensors[1].elements, 1);
  assert.equal(header.tensors[1].nbytes, 4);
});

test("a tensor with a dimension of 0 opens, converts to 0 bytes and dumps", async () => {
  const file = base();
  file.tensors[0] = { name: utf8("empty.weight"), shape: [64, 0], type: F16, nbytes: 0 };
  const bytes = ggufBytes(file.entries, file.tensors);
  const converted = await convertGguf(bytes);
  const empty = converted.tensors.get("empty.weight")!;
  assert.equal(empty.typeName, "F32");
  assert.equal(empty.data.byteLength, 0);

  const input = join(dir, "zero.gguf");
  const output = join(dir, "zero.out.gguf");
  writeFileSync(input, bytes);
  await convertFile(input, output);
  const written = await readGguf(output);
  assert.deepEqual(written.tensors[0].shape, [64, 0]);
  assert.equal(written.tensors[0].typeName, "F32");
  assert.equal(written.tensors[0].nbytes, 0);

  let stderr = "";
  const status = await main([input, "--dump", "empty.weight"], {
    stdout: () => {},
    stderr: (t) => (stderr += t),
  });
  assert.equal(status, 1);
  assert.match(stderr, /has no rows/);
});

test("the CLI refuses a 64-byte tensor name, and reads it with --lenient", async () => {
  const file = base();
  file.tensors[1].name = utf8("n".repeat(64));
  const input = join(dir, "long.gguf");
  writeFileSync(input, ggufBytes(file.entries, file.tensors));
  let stderr = "";
  const io = { stdout: () => {}, stderr: (t: string) => (stderr += t) };
  assert.equal(await main([input, "--plan"], io), 1);
  assert.match(stderr, /its name takes 64 bytes, ggml's limit is 63/);
  assert.equal(await main([input, "--plan", "--lenient"], io), 0);
});

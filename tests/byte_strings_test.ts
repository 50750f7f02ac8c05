/**
 * GGUF strings are bytes: keys, string values, string array elements and tensor names that
 * are not valid UTF-8 come out of every conversion path byte for byte (#20, item 1).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { convertFile, convertGguf, convertStream, readGguf } from "../mod.ts";
import { stringBytes } from "../src/format/utf8.ts";
import { startStaticServer } from "./_http_servers.ts";

/** Byte strings that are not UTF-8 (and a few that are), as real vocabularies hold them. */
const TOKENS: number[][] = [
  [0xff], // a byte token
  [0xfe],
  [0x80], // a lone continuation byte
  [0xc0, 0x80], // overlong NUL
  [0xed, 0xa0, 0x80], // CESU-8 surrogate
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xe2, 0x82], // a cut sequence
  [0x00], // a lone NUL
  [0xef, 0xbf, 0xbd], // a real U+FFFD
  [0x61], // "a"
];

/** A little-endian GGUF v3 file written byte by byte, independent of gguf-stream's encoder. */
function craft(): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const u64 = (v: number) => (u32(v), u32(0));
  const str = (bytes: number[]) => (u64(bytes.length), out.push(...bytes));
  const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
  out.push(...ascii("GGUF"));
  u32(3);
  u64(1); // tensors
  u64(5); // keys
  str(ascii("general.architecture"));
  u32(8);
  str(ascii("llama"));
  str([...ascii("test.key."), 0xff]); // two keys that differ only in an invalid byte
  u32(8);
  str([0x78, 0xfe, 0x79]);
  str([...ascii("test.key."), 0xfe]);
  u32(4);
  u32(7);
  str(ascii("tokenizer.ggml.tokens"));
  u32(9); // ARRAY
  u32(8); // of STRING
  u64(TOKENS.length);
  for (const token of TOKENS) str(token);
  str(ascii("test.cesu"));
  u32(8);
  str([0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]);
  str([...ascii("blk.0."), 0xff, ...ascii(".weight")]); // tensor name
  u32(1); // dims
  u64(32);
  u32(0); // F32
  u64(0); // offset
  while (out.length % 32 !== 0) out.push(0);
  for (let i = 0; i < 32; i++) {
    const bits = new Uint8Array(new Float32Array([i / 8 - 2]).buffer);
    out.push(...bits);
  }
  return Uint8Array.from(out);
}

const dir = mkdtempSync(join(tmpdir(), "gguf-stream-bytes-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const input = craft();
const inputPath = join(dir, "bytes.gguf");
writeFileSync(inputPath, input);

test("readGguf() keeps keys, values, array elements and tensor names as their bytes", async () => {
  const header = await readGguf(inputPath);
  const keys = [...header.metadata.keys()];
  assert.equal(keys.length, 5, "keys differing only in invalid bytes are two keys");
  assert.deepEqual([...stringBytes(keys[1])], [...new TextEncoder().encode("test.key."), 0xff]);
  assert.deepEqual([...stringBytes(keys[2])], [...new TextEncoder().encode("test.key."), 0xfe]);
  const tokens = header.metadata.get("tokenizer.ggml.tokens")!.value as {
    values: string[];
  };
  assert.deepEqual(tokens.values.map((t) => [...stringBytes(t)]), TOKENS);
  assert.equal(new Set(tokens.values).size, TOKENS.length, "no two tokens collapse into one");
  const cesu = header.metadata.get("test.cesu")!.value as string;
  assert.deepEqual([...stringBytes(cesu)], [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]);
  assert.deepEqual(
    [...stringBytes(header.tensors[0].name)],
    [...new TextEncoder().encode("blk.0."), 0xff, ...new TextEncoder().encode(".weight")],
  );
});

test("convertFile() writes a file of byte strings back byte for byte", async () => {
  const out = join(dir, "file.gguf");
  await convertFile(inputPath, out, { force: true });
  assert.deepEqual(new Uint8Array(readFileSync(out)), input);
});

test("convertStream() writes a stream of byte strings back byte for byte", async () => {
  const output = await new Response(convertStream(new Blob([input]).stream())).arrayBuffer();
  assert.deepEqual(new Uint8Array(output), input);
});

test("convertFile() from a URL writes byte strings back byte for byte", async () => {
  const server = await startStaticServer(dir);
  try {
    const out = join(dir, "url.gguf");
    await convertFile(`${server.url}/bytes.gguf`, out, { force: true, remote: "range" });
    assert.deepEqual(new Uint8Array(readFileSync(out)), input);
  } finally {
    await server.close();
  }
});

test("convertGguf() gives names and values whose bytes are the file's", async () => {
  const model = await convertGguf(input);
  const name = [...model.tensors.keys()][0];
  assert.deepEqual(
    [...stringBytes(name)],
    [...new TextEncoder().encode("blk.0."), 0xff, ...new TextEncoder().encode(".weight")],
  );
  const tokens = model.metadata.get("tokenizer.ggml.tokens")!.value as { values: string[] };
  assert.deepEqual(tokens.values.map((t) => [...stringBytes(t)]), TOKENS);
});

/**
 * Metadata values whose bytes a JavaScript value cannot say — a BOOL byte other than 0 or
 * 1, a FLOAT32 or FLOAT64 NaN with a payload or signalling — come out of every conversion
 * path byte for byte, from either byte order; a value changed by the caller is written as
 * changed. (Found by an attack: they came back as 1 and as the canonical quiet NaN.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { convertFile, convertGguf, convertStream, readGguf } from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import type { GgufArray } from "../mod.ts";

/** FLOAT32 bit patterns: signalling NaN, quiet NaN with a payload and the sign set, and 1.5. */
const F32_BITS = [0x7f800001, 0xffc12345, 0x3fc00000];
/** FLOAT64 bit patterns: signalling NaN, quiet NaN with a payload and the sign set. */
const F64_BITS = [0x7ff0000000000001n, 0xfff8dead0000beefn];

/**
 * A GGUF v3 file written byte by byte, independent of gguf-stream's encoder, in either
 * byte order: the same values either way, so a big-endian one converts to the
 * little-endian one exactly.
 */
function craft(littleEndian: boolean): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  const bytesOf = (size: number, set: (view: DataView) => void) => {
    const view = new DataView(new ArrayBuffer(size));
    set(view);
    out.push(...new Uint8Array(view.buffer));
  };
  const u32 = (v: number) => bytesOf(4, (d) => d.setUint32(0, v, littleEndian));
  const u64 = (v: number | bigint) => bytesOf(8, (d) => d.setBigUint64(0, BigInt(v), littleEndian));
  const str = (text: string) => (u64(text.length), out.push(...new TextEncoder().encode(text)));
  const key = (name: string, type: number) => (str(name), u32(type));
  out.push(..."GGUF".split("").map((c) => c.charCodeAt(0)));
  u32(3);
  u64(1); // tensors
  u64(10); // keys
  key("general.architecture", 8);
  str("llama");
  F32_BITS.forEach((bits, i) => (key(`test.f32.${i}`, 6), u32(bits)));
  F64_BITS.forEach((bits, i) => (key(`test.f64.${i}`, 12), u64(bits)));
  key("test.bool.2", 7);
  out.push(2);
  key("test.bool.ff", 7);
  out.push(0xff);
  key("test.bools", 9);
  u32(7);
  u64(4);
  out.push(0, 1, 2, 0xff);
  key("test.nested", 9); // an array of BOOL arrays
  u32(9);
  u64(2);
  u32(7);
  u64(2);
  out.push(0x80, 0);
  u32(7);
  u64(1);
  out.push(1);
  str("w"); // the tensor: 8 F32 values
  u32(1);
  u64(8);
  u32(0);
  u64(0);
  while (out.length % 32 !== 0) out.push(0);
  for (let i = 0; i < 8; i++) bytesOf(4, (d) => d.setFloat32(0, i - 3.5, littleEndian));
  return Uint8Array.from(out);
}

const dir = mkdtempSync(join(tmpdir(), "gguf-stream-bits-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const little = craft(true);
const big = craft(false);
const paths = { little: join(dir, "le.gguf"), big: join(dir, "be.gguf") };
writeFileSync(paths.little, little);
writeFileSync(paths.big, big);

for (const order of ["little", "big"] as const) {
  test(`convertFile() writes NaN payloads and BOOL bytes back exactly (${order}-endian)`, async () => {
    const out = join(dir, `${order}.out.gguf`);
    await convertFile(paths[order], out, { force: true });
    assert.deepEqual(new Uint8Array(readFileSync(out)), little);
  });

  test(`convertStream() writes NaN payloads and BOOL bytes back exactly (${order}-endian)`, async () => {
    const input = order === "little" ? little : big;
    const output = await new Response(convertStream(new Blob([input]).stream())).arrayBuffer();
    assert.deepEqual(new Uint8Array(output), little);
  });
}

test("readGguf() keeps the bytes its values cannot say, little-endian, and only those", async () => {
  const file = await readGguf(big);
  const raw = (key: string) => file.metadata.get(key)!.raw;
  assert.deepEqual(raw("test.f32.0"), Uint8Array.of(0x01, 0x00, 0x80, 0x7f));
  assert.deepEqual(raw("test.f64.1"), Uint8Array.of(0xef, 0xbe, 0, 0, 0xad, 0xde, 0xf8, 0xff));
  assert.deepEqual(raw("test.bool.ff"), Uint8Array.of(0xff));
  assert.equal(raw("test.f32.2"), undefined, "1.5 says its own bytes");
  assert.equal(raw("general.architecture"), undefined);
  const bools = file.metadata.get("test.bools")!.value as GgufArray;
  assert.deepEqual(bools.values, [false, true, true, true]);
  assert.deepEqual(bools.raw, Uint8Array.of(0, 1, 2, 0xff));
  const nested = (file.metadata.get("test.nested")!.value as GgufArray).values as GgufArray[];
  assert.deepEqual(nested[0].raw, Uint8Array.of(0x80, 0));
  assert.equal(nested[1].raw, undefined, "0 and 1 say their own bytes");
});

test("a value the caller changed is written as changed, its old bytes dropped", async () => {
  const file = await readGguf(little);
  const entries = [...file.metadata.values()].map((entry) => ({ ...entry }));
  const set = (
    key: string,
    value: unknown,
  ) => (entries.find((e) => e.key === key)!.value = value as never);
  set("test.f32.0", 2.5);
  set("test.bool.2", false);
  const bools = entries.find((e) => e.key === "test.bools")!;
  bools.value = { ...(bools.value as GgufArray), values: [true, true, false, true] };
  const header = encodeGgufHeader({ alignment: 32, metadata: entries, tensors: [] });
  const reread = await readGguf(Uint8Array.from(header.bytes));
  assert.equal(reread.metadata.get("test.f32.0")!.value, 2.5);
  assert.equal(reread.metadata.get("test.bool.2")!.value, false);
  assert.deepEqual((reread.metadata.get("test.bools")!.value as GgufArray).values, [
    true,
    true,
    false,
    true,
  ]);
  assert.equal((reread.metadata.get("test.bools")!.value as GgufArray).raw, undefined);
  // Unchanged ones keep their bytes.
  assert.deepEqual(reread.metadata.get("test.f64.0")!.raw, file.metadata.get("test.f64.0")!.raw);
  assert.deepEqual(reread.metadata.get("test.bool.ff")!.raw, Uint8Array.of(0xff));
});

test("convertGguf() gives metadata that keeps those bytes", async () => {
  const model = await convertGguf(big);
  assert.deepEqual(model.metadata.get("test.f32.1")!.raw, Uint8Array.of(0x45, 0x23, 0xc1, 0xff));
  assert.deepEqual(model.metadata.get("test.bool.2")!.raw, Uint8Array.of(2));
});

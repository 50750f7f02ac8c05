import assert from "node:assert/strict";
import { release } from "node:os";
import { test } from "node:test";
import { convertGguf } from "../mod.ts";
import { PLATFORM } from "../src/runtime/current.ts";
import { PREFAULT_MIN_BYTES } from "../src/runtime/_prefault.ts";
import { ARCHITECTURE, ggufBytes, utf8 } from "./_gguf_bytes.ts";
import { sha256 } from "./_hash.ts";
import { libcAdvisable } from "./_libc.ts";

/** The platform's prefaulting; `false` where it has none (Node, the web). */
const prefault = (bytes: Uint8Array): boolean => PLATFORM.prefault?.(bytes) ?? false;

/** Linux 5.14 or later, where `MADV_POPULATE_WRITE` exists. */
const [major, minor] = release().split(".").map(Number);
const populateKernel = process.platform === "linux" && (major > 5 || (major === 5 && minor >= 14));

/** Where the kernel can be advised to populate memory. */
const advisable = populateKernel && libcAdvisable;

/** Bytes that are not all zero, so that a prefault that wrote anything would show. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4093) bytes[i] = (i * 31) & 0xff;
  bytes[length - 1] = 0xa5;
  return bytes;
}

test("prefault() backs a buffer where it can, and never changes its bytes", () => {
  const bytes = pattern(8 << 20);
  const before = sha256(bytes);
  assert.equal(prefault(bytes), advisable);
  assert.equal(sha256(bytes), before);
  // A view starting and ending off any page boundary: only the pages inside it are advised.
  const view = bytes.subarray(12_345, 12_345 + (3 << 20) + 77);
  assert.equal(prefault(view), advisable);
  assert.equal(sha256(bytes), before);
});

test("prefault() leaves buffers under 1 MiB alone", () => {
  assert.equal(prefault(new Uint8Array(PREFAULT_MIN_BYTES - 1)), false);
  assert.equal(prefault(new Uint8Array(0)), false);
});

test("a conversion into memory gives the same bytes whether or not memory was prefaulted", async () => {
  // An F16 tensor of 1 MiB: dequantized to F32, 2 MiB, prefaulted where it can be.
  const model = ggufBytes([ARCHITECTURE], [
    { name: utf8("big.weight"), shape: [1024, 512], type: 1, nbytes: 1024 * 512 * 2 },
  ]);
  const hashes = async () => {
    const converted = await convertGguf(model, { threads: 1 });
    return [...converted.tensors.values()].map((tensor) => [tensor.typeName, sha256(tensor.data)]);
  };
  const advised = await hashes();
  assert.equal(advised[0][0], "F32");
  const advise = PLATFORM.prefault;
  // The same conversion with the advice switched off.
  (PLATFORM as { prefault?: unknown }).prefault = undefined;
  try {
    assert.deepEqual(await hashes(), advised);
  } finally {
    (PLATFORM as { prefault?: unknown }).prefault = advise;
  }
});

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openFileSink } from "../src/source/file_sink.ts";
import { PLATFORM } from "../src/runtime/current.ts";
import { libcAdvisable } from "./_libc.ts";

/** The platform's advice; `false` where it gives none (Node, the web). */
const dropCachedPages = (path: string): boolean => PLATFORM.dropCachedPages?.(path) ?? false;

/** Where the kernel can be advised. */
const advisable = libcAdvisable;

test("dropCachedPages() advises the kernel where it can, and never changes the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-page-cache-"));
  try {
    const path = join(dir, "old.gguf");
    const bytes = new Uint8Array(1 << 20).map((_, i) => i * 7);
    writeFileSync(path, bytes);
    assert.equal(dropCachedPages(path), advisable);
    assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
    // A path that cannot be opened is no error: there is nothing to advise.
    assert.equal(dropCachedPages(join(dir, "missing.gguf")), false);
    assert.equal(dropCachedPages(dir + "/\0bad"), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file sink replacing a file leaves it whole until the commit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-page-cache-"));
  try {
    const path = join(dir, "out.gguf");
    writeFileSync(path, "previous contents");
    const sink = await openFileSink(path, { force: true });
    await sink.write(new Uint8Array([1, 2, 3]));
    assert.equal(readFileSync(path, "utf8"), "previous contents");
    await sink.abort();
    assert.equal(readFileSync(path, "utf8"), "previous contents");
    const again = await openFileSink(path, { force: true });
    await again.write(new Uint8Array([1, 2, 3]));
    await again.commit();
    assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

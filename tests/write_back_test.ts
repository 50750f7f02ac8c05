/**
 * Background flushes of a file sink: range write-backs (`sync_file_range`) where the
 * runtime reaches libc (Deno with FFI granted, Bun on Linux), `datasync()` elsewhere or
 * when a write-back fails; either way the bytes are the ones written and the commit still
 * flushes before the rename.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openFileSink } from "../src/source/file_sink.ts";
import { WRITE_PIECE_BYTES } from "../src/source/write_piece.ts";
import { PLATFORM, RUNTIME } from "../src/runtime/current.ts";
import type { FileSystem } from "../src/runtime/platform.ts";
import { withWriteBack } from "../src/runtime/_write_back.ts";

/** Whether this runtime writes back by range here (the test runs Deno with -A). */
const writesBackByRange = PLATFORM.os === "linux" && (RUNTIME === "deno" || RUNTIME === "bun");
const MiB = 1 << 20;

/** Writes `chunks` chunks of 4 MiB (each filled with its index) through a new sink. */
async function writeChunks(path: string, chunks: number) {
  const sink = await openFileSink(path);
  const hash = createHash("sha256");
  const chunk = new Uint8Array(4 * MiB);
  for (let i = 0; i < chunks; i++) {
    chunk.fill(i & 0xff);
    chunk[i] = 0xaa; // not only runs of one byte
    hash.update(chunk);
    await sink.write(chunk);
  }
  await sink.commit();
  return { phases: sink.phases(), sha256: hash.digest("hex") };
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

test("background flushes write back by range where libc is reached, else datasync", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-write-back-"));
  try {
    const path = join(dir, "out.bin");
    const { phases, sha256: written } = await writeChunks(path, 40); // 160 MiB: two flushes
    assert.equal(sha256(path), written);
    assert.ok(phases.backgroundFlushes >= 2, `background flushes: ${phases.backgroundFlushes}`);
    assert.equal(phases.writeBacks, writesBackByRange ? phases.backgroundFlushes : 0);
    assert.ok(phases.finalFlush >= 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two outputs written at once both write back, and a later one again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-write-back-"));
  try {
    const [a, b] = await Promise.all([
      writeChunks(join(dir, "a.bin"), 20),
      writeChunks(join(dir, "b.bin"), 24),
    ]);
    assert.equal(sha256(join(dir, "a.bin")), a.sha256);
    assert.equal(sha256(join(dir, "b.bin")), b.sha256);
    const c = await writeChunks(join(dir, "c.bin"), 20);
    assert.equal(sha256(join(dir, "c.bin")), c.sha256);
    for (const { phases } of [a, b, c]) {
      assert.equal(phases.writeBacks, writesBackByRange ? phases.backgroundFlushes : 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a write-back that fails hands over to datasync, and the bytes are whole", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-write-back-"));
  const platform = PLATFORM as { files?: FileSystem };
  const original = platform.files!;
  const calls = { writeBack: 0, datasync: 0 };
  platform.files = {
    ...original,
    async createNew(path) {
      const file = await original.createNew(path);
      return {
        write: (bytes) => file.write(bytes),
        datasync: () => (calls.datasync++, file.datasync()),
        writeBack: () => (calls.writeBack++, Promise.reject(new Error("EIO, say"))),
        close: () => file.close(),
      };
    },
  };
  try {
    const path = join(dir, "out.bin");
    const { phases, sha256: written } = await writeChunks(path, 40);
    assert.equal(sha256(path), written);
    assert.equal(calls.writeBack, 1, "not tried again after a failure");
    assert.equal(phases.writeBacks, 0);
    // Every background flush, and the final one, by datasync.
    assert.equal(calls.datasync, phases.backgroundFlushes + 1);
  } finally {
    platform.files = original;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file sink writes 1 MiB per call at most, whatever the chunk it is given", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-write-back-"));
  const platform = PLATFORM as { files?: FileSystem };
  const original = platform.files!;
  const sizes: number[] = [];
  platform.files = {
    ...original,
    async createNew(path) {
      const file = await original.createNew(path);
      return {
        ...file,
        write: (bytes) => (sizes.push(bytes.length), file.write(bytes)),
        datasync: () => file.datasync(),
        writeBack: file.writeBack && ((from, length) => file.writeBack!(from, length)),
        close: () => file.close(),
      };
    },
  };
  try {
    const path = join(dir, "out.bin");
    const { sha256: written } = await writeChunks(path, 3); // 4 MiB chunks
    assert.equal(sha256(path), written);
    assert.equal(Math.max(...sizes), WRITE_PIECE_BYTES);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 12 * MiB);
  } finally {
    platform.files = original;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("withWriteBack: a failed call rejects; close waits for a running one first", async () => {
  const order: string[] = [];
  let finish!: (result: number) => void;
  const file = withWriteBack(
    {
      write: (bytes) => Promise.resolve(bytes.length),
      datasync: () => Promise.resolve(),
      close: () => Promise.resolve(void order.push("file closed")),
    },
    () => new Promise((resolve) => (finish = resolve)),
    () => order.push("descriptor closed"),
  );
  const running = file.writeBack!(0, 4096);
  const closing = file.close();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(order, [], "nothing closed while the call runs");
  finish(-1);
  await assert.rejects(running, /sync_file_range failed/);
  await closing;
  assert.deepEqual(order, ["descriptor closed", "file closed"]);
});

/**
 * A worker thread that stops — during its part, or between two steps — is noticed at once
 * where the runtime tells (Node, Bun): its part is redone on this thread, right, and long
 * before the 60 s a silent worker is given.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, test } from "node:test";
import { ConvertThreads } from "../src/convert/convert_threads.ts";
import { canStartWorkers } from "../src/runtime/current.ts";
import { RUNTIME } from "../src/runtime/current.ts";

const skip = !canStartWorkers()
  ? "no worker threads here"
  : RUNTIME === "deno"
  ? "Deno tells nothing when a worker stops (a silent worker is given up after 60 s)"
  : false;

const dir = mkdtempSync(join(tmpdir(), "gguf-worker-exit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A worker module, written to a file so that it can import the real worker. */
function workerModule(name: string, code: string): URL {
  const path = join(dir, name);
  writeFileSync(path, code);
  return pathToFileURL(path);
}

const realWorker = new URL("../src/convert/convert_worker.ts", import.meta.url).href;

/** 64 Q8_0 blocks (scale 1, first value b + 1) and room for their floats. */
function blocks() {
  const src = new Uint8Array(new SharedArrayBuffer(64 * 34));
  for (let b = 0; b < 64; b++) src.set([0x00, 0x3c, b + 1], b * 34);
  const dst = new Uint8Array(new SharedArrayBuffer(64 * 32 * 4));
  const job = (from: number, to: number) => ({
    from: 8,
    to: 0,
    littleEndian: true,
    src: src.subarray(from * 34, to * 34),
    dst: dst.subarray(from * 128, to * 128),
    elements: (to - from) * 32,
  });
  const check = () => {
    const values = new Float32Array(dst.buffer);
    for (let b = 0; b < 64; b++) assert.equal(values[b * 32], b + 1, `block ${b}`);
    dst.fill(0);
  };
  return { job, check };
}

test("a worker that exits during its part: the part is redone here at once", { skip }, async () => {
  const url = workerModule("exit_at_once.mjs", "globalThis.onmessage = () => process.exit(3);\n");
  const { job, check } = blocks();
  const pool = new ConvertThreads(3, url);
  const start = performance.now();
  try {
    await pool.run([job(0, 20), job(20, 40), job(40, 64)], {});
  } finally {
    pool.close();
  }
  assert.ok(performance.now() - start < 10_000, `${performance.now() - start} ms`);
  assert.equal(pool.parallel, false);
  check();
});

test("a worker that exits between steps: the next step does not wait on it", { skip }, async () => {
  // Answers its first part, then stops.
  const url = workerModule(
    "exit_after_one.mjs",
    `import ${JSON.stringify(realWorker)};
const convert = globalThis.onmessage;
globalThis.onmessage = (event) => {
  convert(event);
  setTimeout(() => process.exit(3), 0);
};
`,
  );
  const { job, check } = blocks();
  const pool = new ConvertThreads(2, url);
  try {
    await pool.run([job(0, 32), job(32, 64)], {});
    assert.equal(pool.parallel, true);
    check();
    await new Promise((resolve) => setTimeout(resolve, 500)); // the worker stops meanwhile
    const start = performance.now();
    await pool.run([job(0, 32), job(32, 64)], {});
    assert.ok(performance.now() - start < 10_000, `${performance.now() - start} ms`);
    assert.equal(pool.parallel, false);
    check();
  } finally {
    pool.close();
  }
});

/**
 * A view of a mapped file never outlives its mapping (#20, item 2), whatever a caller does
 * with its buffer, and Deno never prompts for FFI when it tries to map (#20, item 11).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { convertGguf } from "../mod.ts";
import { RUNTIME } from "../src/runtime/current.ts";
import { MMAP_MISSING } from "./_sources.ts";

const ROOT = join(import.meta.dirname!, "..");
const SAMPLE = join(ROOT, "samples/tiny-llama.gguf");
const DENO = RUNTIME === "deno" ? process.execPath : join(ROOT, "node_modules/.bin/deno");

test(
  "mapped views survive transfer, structuredClone, postMessage and collection",
  { skip: MMAP_MISSING },
  () => {
    const child = join(ROOT, "tests/_mapping_child.ts");
    const args = RUNTIME === "deno"
      ? ["run", "-A", "--v8-flags=--expose-gc", child, SAMPLE]
      : [child, SAMPLE];
    const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 0, `the child failed (signal ${run.signal}): ${run.stderr}`);
    const results = JSON.parse(run.stdout.trim().split("\n").pop()!);
    assert.equal(results.transfer, true, "a transferred buffer reads the file after collection");
    assert.equal(results.structuredClone, true, "a structuredClone transfer too");
    assert.equal(results.postMessage, true, "a postMessage transfer too");
    // Deno's mapping ends at an explicit close() (views read zeros, never freed memory);
    // Bun's lives as long as a view does.
    const closed = RUNTIME === "deno" ? "zeros" : "file";
    assert.equal(results.afterClose, closed, "a view after its source's close()");
    assert.deepEqual(results.modelClose, [true, closed], "views of convertGguf()'s result");
  },
);

test(
  "Deno without --allow-ffi reads by position and never prompts, even on a terminal",
  {
    skip: !existsSync("/usr/bin/script") || !existsSync(DENO)
      ? "needs util-linux script (a terminal) and Deno"
      : false,
  },
  () => {
    // `script` gives the command a terminal, where Deno would ask before dlopen().
    const command = `"${DENO}" run --allow-read --allow-env "${join(ROOT, "convert.ts")}" ` +
      `"${SAMPLE}" --plan -v`;
    const run = spawnSync("script", ["-qec", command, "/dev/null"], {
      encoding: "utf8",
      timeout: 60_000,
      input: "",
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.doesNotMatch(run.stdout, /Deno requests|Allow\?/);
    assert.match(run.stdout, /cannot mmap on Deno \(FFI is not allowed/);
    assert.match(run.stdout, /GGUF v3/);
  },
);

test(
  "convertGguf() that fails after keeping mapped views closes its mapping",
  {
    // (Bun's mappings end when their last view is collected, not at close().)
    skip: MMAP_MISSING || RUNTIME !== "deno" || !existsSync("/proc/self/maps")
      ? "needs Deno's mmap, which ends at close(), and /proc"
      : false,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-map-"));
    const path = join(dir, "kept-then-failed.gguf");
    copyFileSync(SAMPLE, path);
    const mapped = () =>
      readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes(path)).length;
    try {
      // onSummary runs after every tensor, the kept (zero-copy) ones included, is converted.
      await assert.rejects(
        convertGguf(path, {
          access: "mmap",
          onWarning: () => {},
          onSummary: () => {
            throw new Error("the caller's callback failed");
          },
        }),
        /the caller's callback failed/,
      );
      assert.equal(mapped(), 0, "the model is still mapped: no one is left to close it");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

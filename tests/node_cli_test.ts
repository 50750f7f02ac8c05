/**
 * The CLI from the source tree on Node (>= 22.18 strips the types of `node convert.ts`),
 * run with the pinned Node 22 from node_modules: the same bytes as in-process, and the
 * fallback to positional reads said once under -v, or refused with `--access mmap`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { main } from "../convert.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules", "node", "bin", "node");
const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const IN_CI = process.env.CI === "true" || process.env.CI === "1";
const skip = IN_CI || existsSync(NODE) ? false : "the pinned node is not installed in node_modules";

/** Runs `node convert.ts ARGS` in the repository with the pinned Node. */
function nodeCli(args: string[]) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return spawnSync(NODE, ["convert.ts", ...args], { cwd: ROOT, env, encoding: "utf8" });
}

test("node convert.ts writes the bytes main() writes, saying once under -v that it reads", {
  skip,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-node-cli-"));
  try {
    const viaNode = join(dir, "node.gguf");
    const run = nodeCli([SAMPLE, "-o", viaNode, "-q", "-v"]);
    assert.equal(run.status, 0, run.stderr);
    const [reads, time, ...rest] = run.stderr.split("\n");
    assert.equal(reads, "note: this runtime has no mmap; reading the file by position instead");
    assert.match(time, /^note: time: preparing /); // -v says where the time went
    assert.deepEqual(rest, [""]);
    const inProcess = join(dir, "main.gguf");
    const status = await main([SAMPLE, "-o", inProcess, "-q"], {
      stdout: () => {},
      stderr: () => {},
    });
    assert.equal(status, 0);
    assert.deepEqual(readFileSync(viaNode), readFileSync(inProcess));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("node convert.ts --access mmap is an IO error: Node has no mmap", { skip }, () => {
  const run = nodeCli([SAMPLE, "--plan", "--access", "mmap"]);
  assert.equal(run.status, 1, run.stderr);
  assert.match(
    run.stderr,
    /^error: Cannot map [^\n]*: this runtime has no mmap \(use Deno or Bun\)\n$/,
  );
});

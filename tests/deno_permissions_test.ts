/**
 * Under Deno a worker thread needs read access to its module. Run with less than `-A`
 * (`--allow-read` for the model alone), the CLI starts no worker it cannot load: a pipe
 * into a pipe converts on the main thread, and `--threads N` converts on one thread and
 * says so, where Deno would otherwise print an `Uncaught (in worker)` error of its own.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { convertFile } from "../mod.ts";
import { ROOT, runInBash } from "./_cli.ts";

const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const SKIP = !("Deno" in globalThis)
  ? "Deno's permissions"
  : !existsSync("/bin/bash")
  ? "needs bash"
  : false;

test("with read access to the model alone, Deno converts without the workers it cannot load", {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-permissions-"));
  try {
    const reference = join(dir, "reference.gguf");
    await convertFile(SAMPLE, reference);
    const piped = join(dir, "piped.gguf");
    const pipe = runInBash(`"$@" < "${SAMPLE}" | cat > "${piped}"; exit "\${PIPESTATUS[0]}"`, [
      process.execPath,
      "run",
      `--allow-read=${SAMPLE}`,
      "convert.ts",
      "-",
      "-o",
      "-",
      "-q",
    ]);
    assert.equal(pipe.status, 0, pipe.stderr);
    assert.equal(pipe.stderr, "");
    assert.ok(readFileSync(piped).equals(readFileSync(reference)));

    const threaded = join(dir, "threaded.gguf");
    const threads = runInBash(`"$@"`, [
      process.execPath,
      "run",
      `--allow-read=${SAMPLE},${dir}`,
      `--allow-write=${dir}`,
      "convert.ts",
      SAMPLE,
      "-o",
      threaded,
      "--threads",
      "2",
    ]);
    assert.equal(threads.status, 0, threads.stderr);
    assert.doesNotMatch(threads.stderr, /Uncaught|^error/m);
    assert.match(
      threads.stderr,
      /^warning: 2 threads were asked for, but worker threads cannot start here [^\n]*--allow-read/m,
    );
    assert.ok(readFileSync(threaded).equals(readFileSync(reference)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

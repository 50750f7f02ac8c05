/**
 * Runs a script in a child process of this runtime where WebAssembly does not exist, as on a
 * host that forbids it: the fallback paths' tests compare what it prints with what the
 * WebAssembly kernels give here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RUNTIME } from "../src/runtime/current.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A repository file as a JSON string of its `file:` URL, for an `import()` in a script. */
export const moduleUrl = (path: string): string =>
  JSON.stringify(pathToFileURL(join(ROOT, path)).href);

/**
 * Writes `body` after a line that deletes `WebAssembly` into `dir/no_wasm.ts`, runs it
 * (Deno with `-A`), checks that it exits 0, and gives what it printed, trimmed.
 *
 * @param dir A temporary directory of the caller's.
 * @param body The script's source; it prints one line.
 * @returns Its standard output, trimmed.
 */
export function runWithoutWebAssembly(dir: string, body: string): string {
  const script = join(dir, "no_wasm.ts");
  writeFileSync(script, `delete (globalThis as { WebAssembly?: unknown }).WebAssembly;\n${body}`);
  const args = RUNTIME === "deno" ? ["run", "-A", script] : [script];
  const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.trim();
}

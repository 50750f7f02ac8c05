/**
 * The JSDoc examples run on Bun and Node too. `deno test --doc` runs them under Deno; a
 * public example ships in the npm package's declarations, so a Node or Bun user who copies
 * one must not meet `Deno is not defined`. Every `@example` outside `src/runtime/` (whose
 * adapters are each one runtime's) is written to a temporary module, its imports pointed
 * at the source tree, and all are imported one after another in one child process of the
 * runtime running this test.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRIES: Record<string, string> = {
  "gguf-stream": "mod.ts",
  "gguf-stream/sources": "sources.ts",
  "gguf-stream/kernels": "kernels.ts",
  "gguf-stream/pipeline": "pipeline.ts",
  "gguf-stream/convert": "convert.ts",
};

/** Every `.ts` file whose examples should run anywhere: the entry points and src/. */
function sourceFiles(): string[] {
  const files = Object.values(ENTRIES).map((name) => join(ROOT, name));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(ROOT, "src", "runtime")) walk(path);
      } else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  walk(join(ROOT, "src"));
  return files;
}

/** The examples of one file, as modules whose imports and `import.meta.url` are its own. */
function examplesOf(file: string): { line: number; code: string }[] {
  const text = readFileSync(file, "utf8");
  const examples: { line: number; code: string }[] = [];
  const block =
    /@example[^\n]*\n(?:\s*\*[^\n]*\n)*?\s*\* ```(?:ts|typescript)([^\n]*)\n([\s\S]*?)\n\s*\* ```/g;
  for (const match of text.matchAll(block)) {
    if (/\bignore\b/.test(match[1])) continue;
    const fileUrl = pathToFileURL(file).href;
    const code = match[2].split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n")
      .replace(/((?:from|import)\s*)"([^"]+)"/g, (whole, prefix: string, specifier: string) => {
        if (specifier in ENTRIES) {
          return `${prefix}${JSON.stringify(pathToFileURL(join(ROOT, ENTRIES[specifier])).href)}`;
        }
        if (specifier.startsWith(".")) {
          return `${prefix}${JSON.stringify(new URL(specifier, fileUrl).href)}`;
        }
        return whole;
      })
      .replaceAll("import.meta.url", JSON.stringify(fileUrl));
    examples.push({ line: text.slice(0, match.index).split("\n").length, code });
  }
  return examples;
}

/** Imports each module in turn, each within a time limit; prints the failures as JSON. */
const RUNNER = `
const failures = [];
for (const [name, url] of JSON.parse(process.argv.at(-1))) {
  let timer;
  try {
    await Promise.race([
      import(url),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("did not finish in 60 s")), 60_000);
      }),
    ]);
  } catch (error) {
    failures.push(name + ": " + String(error?.stack ?? error).split("\\n").slice(0, 3).join(" | "));
  } finally {
    clearTimeout(timer);
  }
}
process.stdout.write(JSON.stringify(failures) + "\\n");
process.exit(0);
`;

test("every JSDoc example outside src/runtime/ runs under this runtime too", {
  skip: "Deno" in globalThis ? "deno test --doc runs them under Deno" : false,
  timeout: 600_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-examples-"));
  try {
    const modules: [string, string][] = [];
    for (const file of sourceFiles()) {
      for (const { line, code } of examplesOf(file)) {
        const path = join(dir, `example_${modules.length}.ts`);
        writeFileSync(path, code + "\n");
        modules.push([`${relative(ROOT, file)}:${line}`, pathToFileURL(path).href]);
      }
    }
    assert.ok(modules.length > 100, `only ${modules.length} examples found`);
    const runner = join(dir, "runner.mjs");
    writeFileSync(runner, RUNNER);
    const child = spawnSync(process.execPath, [runner, JSON.stringify(modules)], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 64 << 20,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined },
    });
    assert.equal(child.status, 0, child.stderr);
    const failures = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as string[];
    assert.deepEqual(failures, [], `${failures.length} of ${modules.length} examples failed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Keeps the house in order: every module imports only from its own layer or the layers
 * below it, no modules import each other in a circle, only the platform adapters in
 * src/runtime/ (and the CLI entry convert.ts) name a runtime (`Deno`, `Bun`, `node:`,
 * `process`), and everything else reaches the runtime through the one seam: the
 * `Platform` interface (src/runtime/platform.ts) and the platform chosen for this runtime
 * (src/runtime/current.ts), never an adapter itself.
 *
 * The layers, bottom up:
 *
 *   0 src/model/     types, errors, ggml type traits: runtime-free, imports nothing below
 *   1 src/runtime/   the Platform interface, one adapter per runtime (deno, bun, node, web)
 *                    and current.ts, which detects the runtime and picks one; it builds on
 *                    the model alone (errors, ByteSource)
 *   1 src/format/    the header parser and encoder: runtime-free, beside src/runtime/
 *   2 src/source/    byte sources, the atomic file sink and stdio, built on the platform
 *   3 src/open/, src/convert/
 *   4 src/output/
 *   5 src/cli/
 *   6 mod.ts, sources.ts, kernels.ts, pipeline.ts, convert.ts
 *
 * src/format/ and src/runtime/ share a rank but not a job: neither imports the other.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Layers from the bottom up; a module may import from its own rank or below. */
const RANKS: [string, number][] = [
  ["src/model/", 0],
  ["src/runtime/", 1],
  ["src/format/", 1],
  ["src/source/", 2],
  ["src/open/", 3],
  ["src/convert/", 3],
  ["src/output/", 4],
  ["src/cli/", 5],
];
const ROOT_FILES = ["mod.ts", "sources.ts", "kernels.ts", "pipeline.ts", "convert.ts"];

function rank(file: string): number {
  if (ROOT_FILES.includes(file)) return 6;
  const found = RANKS.find(([prefix]) => file.startsWith(prefix));
  if (found === undefined) throw new Error(`${file} is in no layer`);
  return found[1];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The code without comments (JSDoc examples import freely) and without string contents. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Relative module specifiers a file imports or re-exports, resolved from the root. */
function imports(file: string): string[] {
  const text = code(readFileSync(join(ROOT, file), "utf8"));
  const specifiers = [
    ...text.matchAll(/\b(?:import|export)\b[^;"']*?\bfrom\s*["']([^"']+)["']/g),
    ...text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
  ].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith(".")).map((s) =>
    relative(ROOT, resolve(ROOT, dirname(file), s)).replaceAll("\\", "/")
  );
}

const FILES = [...ROOT_FILES, ...sourceFiles("src")];
const GRAPH = new Map(FILES.map((file) => [file, imports(file)]));

test("every module imports only from its own layer or below", () => {
  const upward: string[] = [];
  for (const [file, targets] of GRAPH) {
    for (const target of targets) {
      assert.ok(GRAPH.has(target), `${file} imports ${target}, which is not a module here`);
      if (rank(target) > rank(file)) upward.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

test("no modules import each other in a circle", () => {
  const state = new Map<string, "visiting" | "done">();
  const circles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") {
      circles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
      return;
    }
    state.set(file, "visiting");
    for (const target of GRAPH.get(file) ?? []) visit(target, [...path, file]);
    state.set(file, "done");
  };
  for (const file of GRAPH.keys()) visit(file, []);
  assert.deepEqual(circles, []);
});

test("src/runtime/ builds on the model alone, and src/format/ never reaches the runtime", () => {
  const wrong: string[] = [];
  for (const [file, targets] of GRAPH) {
    for (const target of targets) {
      const runtimeToOther = file.startsWith("src/runtime/") &&
        !target.startsWith("src/runtime/") && !target.startsWith("src/model/");
      const formatToRuntime = file.startsWith("src/format/") && target.startsWith("src/runtime/");
      if (runtimeToOther || formatToRuntime) wrong.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

/** What the rest of the code may import from src/runtime/: the interface and the choice. */
const SEAM = ["src/runtime/platform.ts", "src/runtime/current.ts"];

test("outside src/runtime/, modules reach the runtime only through its seam", () => {
  const adapters: string[] = [];
  for (const [file, targets] of GRAPH) {
    if (file.startsWith("src/runtime/")) continue;
    for (const target of targets) {
      if (target.startsWith("src/runtime/") && !SEAM.includes(target)) {
        adapters.push(`${file} -> ${target}`);
      }
    }
  }
  assert.deepEqual(adapters, []);
});

test("only the platform adapters and the CLI entry name a runtime", () => {
  const named: string[] = [];
  for (const file of FILES) {
    if (file.startsWith("src/runtime/") || file === "convert.ts") continue;
    const text = code(readFileSync(join(ROOT, file), "utf8"));
    const patterns = [
      /\bDeno\./,
      /\bBun\./,
      /["'](?:node|bun):/,
      /(?<![.\w])process\??\./, // the global, not a member named so (PLATFORM.process)
      /\bgetBuiltinModule\b/,
      /\bglobalThis\.process\b|\{\s*process\??\s*:/, // the global reached through globalThis
    ];
    for (const pattern of patterns) {
      if (pattern.test(text)) named.push(`${file}: ${pattern.source}`);
    }
  }
  assert.deepEqual(named, []);
});

/** Modules a file loads before it runs: value imports and re-exports, not `import()`. */
function staticImports(file: string): string[] {
  const text = code(readFileSync(join(ROOT, file), "utf8"));
  const specifiers = [
    ...text.matchAll(/\b(?:import|export)\s+(?!type\b)[^;"']*?\bfrom\s*["']([^"']+)["']/g),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
  ].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith(".")).map((s) =>
    relative(ROOT, resolve(ROOT, dirname(file), s)).replaceAll("\\", "/")
  );
}

test("the CLI starts without the kernels: they load once the flags ask for them", () => {
  // Every run of the CLI loads what convert.ts imports statically before it parses a flag;
  // a pipe into a pipe then loads the conversion on its worker thread, in parallel.
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const target of staticImports(file)) visit(target);
  };
  visit("convert.ts");
  for (
    const heavy of [
      "src/convert/kernels.ts",
      "src/open/open_model.ts",
      "src/output/file.ts",
      "src/source/http_request.ts",
    ]
  ) {
    assert.ok(!loaded.has(heavy), `convert.ts loads ${heavy} before it starts`);
  }
  assert.ok(loaded.has("src/output/stdio_conversion.ts"));
  assert.ok(loaded.size < 40, `convert.ts loads ${loaded.size} modules before it starts`);
});

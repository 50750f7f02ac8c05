/**
 * Keeps the house in order: every module imports only from its own layer or the layers
 * below it, no modules import each other in a circle, and only the platform adapters
 * (src/runtime/) and the CLI name a runtime (`Deno`, `Bun`, `node:`).
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
const ROOT_FILES = ["mod.ts", "advanced.ts", "convert.ts"];

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

test("only the platform adapters and the CLI name a runtime", () => {
  const named: string[] = [];
  for (const file of FILES) {
    if (file.startsWith("src/runtime/") || file.startsWith("src/cli/") || file === "convert.ts") {
      continue;
    }
    const text = code(readFileSync(join(ROOT, file), "utf8"));
    for (const pattern of [/\bDeno\./, /\bBun\./, /["']node:/, /\bprocess\./]) {
      if (pattern.test(text)) named.push(`${file}: ${pattern.source}`);
    }
  }
  assert.deepEqual(named, []);
});

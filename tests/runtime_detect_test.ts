/**
 * `RUNTIME` names the runtime: Deno, Bun and Node by their own globals, workerd by its user
 * agent, and a browser — never "node" — where none of them is.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RUNTIME } from "../src/runtime/current.ts";
import { detectRuntime } from "../src/runtime/current.ts";

test("RUNTIME names the runtime running the tests", () => {
  const versions = (globalThis as { process?: { versions?: Record<string, string> } }).process
    ?.versions;
  const expected = versions?.bun !== undefined
    ? "bun"
    : versions?.deno !== undefined
    ? "deno"
    : "node";
  assert.equal(RUNTIME, expected);
});

test("detectRuntime() tells workerd and browsers from Node", () => {
  // workerd: web globals and, with nodejs_compat, a `process` whose versions has node.
  assert.equal(
    detectRuntime({
      navigator: { userAgent: "Cloudflare-Workers" },
      process: { versions: { node: "22.0.0" } },
    }),
    "workerd",
  );
  const page = { window: {}, document: {}, navigator: { userAgent: "Mozilla/5.0 (X11)" } };
  assert.equal(detectRuntime(page), "browser");
  assert.equal(detectRuntime({ navigator: { userAgent: "Mozilla/5.0" } }), "browser"); // a web worker
  assert.equal(detectRuntime({}), "browser");
  assert.equal(
    detectRuntime({
      process: { versions: { node: "22.18.0" } },
      navigator: { userAgent: "Node.js/22" },
    }),
    "node",
  );
  assert.equal(detectRuntime({ Deno: {}, process: { versions: { node: "22.0.0" } } }), "deno");
  assert.equal(detectRuntime({ Bun: {}, process: { versions: { node: "22.0.0" } } }), "bun");
});

/**
 * Which JavaScript runtime this is, told from its globals once, so that the rest of the
 * library asks a name instead of probing.
 *
 * @module
 */

/** A JavaScript runtime gguf-stream tells apart. */
export type Runtime = "deno" | "bun" | "node" | "workerd" | "browser";

/** The globals that tell runtimes apart. */
interface RuntimeGlobals {
  Deno?: unknown;
  Bun?: unknown;
  process?: { versions?: { node?: unknown } };
  navigator?: { userAgent?: unknown };
}

/**
 * Tells the runtime from its globals: `Bun`, then `Deno` (each also has
 * `process.versions.node`), Cloudflare's workerd (`navigator.userAgent` is
 * `Cloudflare-Workers`), Node (`process.versions.node`), and otherwise a browser — a page
 * or a web worker, or another runtime with only web APIs.
 *
 * @param globals The global object to look at (default `globalThis`).
 * @returns The runtime's name.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "./detect_runtime.ts";
 * import assert from "node:assert/strict";
 * assert.equal(detectRuntime({ navigator: { userAgent: "Cloudflare-Workers" } }), "workerd");
 * assert.equal(detectRuntime({ navigator: { userAgent: "Mozilla/5.0" } }), "browser");
 * assert.equal(detectRuntime({ process: { versions: { node: "22.18.0" } } }), "node");
 * assert.equal(detectRuntime(), "deno");
 * ```
 */
export function detectRuntime(globals: object = globalThis): Runtime {
  const g = globals as RuntimeGlobals;
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "workerd";
  if (typeof g.process?.versions?.node === "string") return "node";
  return "browser";
}

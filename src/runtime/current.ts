/**
 * The one place that tells which JavaScript runtime this is, from its globals; the rest
 * of the library asks {@linkcode RUNTIME} instead of probing.
 *
 * @module
 */
import type { Runtime } from "./platform.ts";

export type { Runtime };

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
 * import { detectRuntime } from "./current.ts";
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

/** The runtime this module runs in, detected once: see {@linkcode detectRuntime}. */
export const RUNTIME: Runtime = detectRuntime();

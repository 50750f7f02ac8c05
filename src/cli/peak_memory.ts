/**
 * The process's peak resident memory, for the CLI's closing summary.
 *
 * @module
 */

/**
 * The peak resident set size in bytes: `process.resourceUsage().maxRSS` (Deno, Bun and
 * Node all provide it, in KiB), or the current resident size where it is missing.
 *
 * @returns Bytes.
 *
 * @example
 * ```ts
 * import { peakMemory } from "./peak_memory.ts";
 * import assert from "node:assert/strict";
 * assert.ok(peakMemory() > 1 << 20);
 * ```
 */
export function peakMemory(): number {
  try {
    const maxRss = process.resourceUsage?.().maxRSS;
    if (typeof maxRss === "number" && maxRss > 0) return maxRss * 1024;
  } catch {
    // Fall through to the current size.
  }
  return process.memoryUsage().rss;
}

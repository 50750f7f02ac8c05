/**
 * The process's peak resident memory, for the CLI's closing summary.
 *
 * @module
 */
import { PLATFORM } from "../runtime/current.ts";

/**
 * The peak resident set size in bytes as the platform reports it (the current resident
 * size where the peak is unknown); 0 where the runtime has no process.
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
  return PLATFORM.process?.peakMemory() ?? 0;
}

/**
 * The names of the policy's flags, as the command line (`--target …`) and the edge
 * service's query (`?target=…`) spell them: one list for both, so that what one accepts
 * the other does.
 *
 * @module
 */

/**
 * Every policy flag, in the order `--help` gives them.
 *
 * @example
 * ```ts
 * import { POLICY_FLAG_NAMES } from "./policy_flag_names.ts";
 * import assert from "node:assert/strict";
 * assert.ok(POLICY_FLAG_NAMES.includes("max-error"));
 * ```
 */
export const POLICY_FLAG_NAMES: readonly string[] = [
  "target",
  "requantize",
  "method",
  "max-error",
  "for",
  "keep",
  "dequantize",
  "unsupported",
];

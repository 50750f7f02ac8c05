/**
 * The library's messages name its options ("option lenient: true"); on the command line the same
 * advice names the flags that set them.
 *
 * @module
 */

/** Each option phrase the library's messages use, and the flag that sets it. */
const OPTION_FLAGS: readonly [string, string][] = [
  ["option lenient: true", "--lenient"],
  ["option force: true", "--force"],
  ["option maxHeaderMemory", "--max-header-memory"],
  ['option unsupported: "warn"', "--unsupported warn"],
  ["a per-type rule", "--keep TYPE"],
];

/**
 * A library message as the CLI prints it: option names replaced by their flags.
 *
 * @param message A `GgufError`'s message.
 * @returns The message, naming flags.
 *
 * @example
 * ```ts
 * import { cliMessage } from "./cli_message.ts";
 * import assert from "node:assert/strict";
 * assert.equal(cliMessage("Cannot write a.gguf: it exists (option force: true replaces it)"),
 *   "Cannot write a.gguf: it exists (--force replaces it)");
 * ```
 */
export function cliMessage(message: string): string {
  let text = message;
  for (const [option, flag] of OPTION_FLAGS) text = text.replaceAll(option, flag);
  return text;
}

/**
 * "Did you mean …?" for a mistyped command-line flag.
 *
 * @module
 */
import { editDistance } from "../model/similar_names.ts";

/**
 * Turns a `node:util` `parseArgs` error into one line a person can act on: an unknown
 * flag with the closest known one, or a flag missing its value.
 *
 * @param error What `parseArgs` threw.
 * @param flags The known long flag names, without dashes.
 * @returns The message.
 *
 * @example
 * ```ts
 * import { usageMessage } from "./suggest_flag.ts";
 * import assert from "node:assert/strict";
 * const error = Object.assign(new TypeError("Unknown option '--paln'"), {
 *   code: "ERR_PARSE_ARGS_UNKNOWN_OPTION",
 * });
 * assert.equal(usageMessage(error, ["plan", "json"]), "unknown option --paln (did you mean --plan?)");
 * ```
 */
export function usageMessage(error: unknown, flags: readonly string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const option = message.match(/'(-[^' ]+)/)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option !== undefined) {
    const name = option.replace(/^-+/, "").split("=")[0];
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const flag of flags) {
      const d = editDistance(name, flag);
      if (d < bestDistance) [best, bestDistance] = [flag, d];
    }
    const close = best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3));
    return `unknown option ${option}${close ? ` (did you mean --${best}?)` : ""}`;
  }
  const quoted = message.match(/'([^']+)'/)?.[1] ?? "";
  const flag = quoted.match(/--[a-z][a-z-]*/)?.[0] ?? option;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag !== undefined) {
    if (/argument missing/.test(message)) return `${flag} needs a value`;
    // A value starting with "-" (e.g. --threads -1): parseArgs cannot tell it from a flag.
    if (/ambiguous/.test(message)) {
      return `${flag} needs a value; one starting with "-" is written ${flag}=-…`;
    }
    return `${flag} takes no value`;
  }
  return message;
}

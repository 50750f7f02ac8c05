/**
 * "Did you mean …?" for a mistyped command-line flag, metadata key or tensor name.
 *
 * @module
 */

/** Edit distance between two short strings (insertions, deletions, substitutions, swaps). */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        d[(i - 1) * cols + j] + 1,
        d[i * cols + j - 1] + 1,
        d[(i - 1) * cols + j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[(i - 2) * cols + j - 2] + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1];
}

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
      const d = distance(name, flag);
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

/**
 * The names closest to a mistyped one, for a "did you mean" hint: those within a few edits
 * (about one per four characters), nearest first, then names that contain it or share its
 * last dotted part.
 *
 * @param name What the user typed, e.g. `blk.0.attn_q.weigth`.
 * @param names The names that exist.
 * @param most How many to return at most.
 * @returns Up to `most` names.
 *
 * @example
 * ```ts
 * import { similarNames } from "./suggest_flag.ts";
 * import assert from "node:assert/strict";
 * const keys = ["general.architecture", "general.name", "llama.block_count"];
 * assert.deepEqual(similarNames("general.architectur", keys), ["general.architecture"]);
 * assert.deepEqual(similarNames("block_count", keys), ["llama.block_count"]);
 * ```
 */
export function similarNames(name: string, names: Iterable<string>, most = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 4));
  const near: [string, number][] = [];
  const related: string[] = [];
  const last = name.split(".").pop()!;
  for (const candidate of names) {
    // Lengths further apart than the limit cannot be within it.
    const d = Math.abs(candidate.length - name.length) > limit
      ? Infinity
      : distance(name, candidate);
    if (d <= limit) near.push([candidate, d]);
    else if (candidate.includes(name) || candidate.split(".").includes(last)) {
      related.push(candidate);
    }
  }
  near.sort((a, b) => a[1] - b[1]);
  return [...near.map(([candidate]) => candidate), ...related].slice(0, most);
}

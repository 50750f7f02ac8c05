/**
 * Flags that parse but would be dropped or do nothing in the combination given: the user
 * meant something by each, so each is refused before anything is read rather than ignored.
 *
 * @module
 */
import { POLICY_FLAG_NAMES } from "./policy_flag_names.ts";

/** A token of `parseArgs({ tokens: true })`, the part read here. */
export interface FlagToken {
  kind: string;
  name?: string;
  value?: string;
}

/** The parsed flags read here. */
export type ParsedFlags = Record<string, string | boolean | string[] | undefined>;

/** Flags that change a conversion and nothing that `--key` or `--dump` prints. */
const CONVERSION_FLAGS = [...POLICY_FLAG_NAMES, "threads", "force", "progress"];

/**
 * Why a combination of flags cannot be run as given, or `undefined` if it can: a flag
 * taking one value given twice (`-o A -o B`), `--plan` with `-o`, `--force`, `--progress` or
 * `--threads` without it, a conversion flag with `--key` or `--dump` (they print the
 * model's own values). (`-q -v` is not one: notices and timings without the summary.)
 *
 * @param values The flags as `parseArgs` gives them.
 * @param tokens The tokens `parseArgs({ tokens: true })` gives, for repeated flags.
 * @returns A one-line message for a usage error, or `undefined`.
 *
 * @example
 * ```ts
 * import { flagConflict } from "./flag_conflicts.ts";
 * import assert from "node:assert/strict";
 * const tokens = [
 *   { kind: "option", name: "output", value: "a.gguf" },
 *   { kind: "option", name: "output", value: "b.gguf" },
 * ];
 * assert.match(flagConflict({ output: "b.gguf" }, tokens)!, /given twice/);
 * assert.match(flagConflict({ plan: true, output: "b.gguf" }, [])!, /drop -o/);
 * assert.equal(flagConflict({ output: "b.gguf", force: true }, []), undefined);
 * ```
 */
export function flagConflict(
  values: ParsedFlags,
  tokens: readonly FlagToken[],
): string | undefined {
  const given = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.value === undefined || token.name === "key") continue;
    const flag = token.name === "output" ? "-o" : `--${token.name}`;
    const seen = given.get(flag) ?? [];
    seen.push(token.value);
    given.set(flag, seen);
    if (seen.length === 2) {
      return `${flag} is given twice (${
        seen.map((value) => JSON.stringify(value)).join(" and ")
      }): give it once`;
    }
  }
  const inspecting = values.key !== undefined ? "--key" : values.dump !== undefined ? "--dump" : "";
  if (inspecting !== "") {
    const extra = CONVERSION_FLAGS.find((flag) => values[flag] !== undefined);
    if (extra !== undefined) {
      return `${inspecting} prints the model's own values, unconverted: drop --${extra}`;
    }
    return undefined; // the rest is inspectRequest()'s to check
  }
  if (values.plan && values.output !== undefined) {
    return "--plan writes nothing: drop -o to see the plan, or --plan to convert";
  }
  if (values.output === undefined) {
    const idle = ["force", "progress", "threads"].find((flag) => values[flag] !== undefined);
    if (idle !== undefined) {
      return `--${idle} is for a conversion, and without -o OUT nothing is converted: add -o OUT or drop --${idle}`;
    }
  }
  return undefined;
}

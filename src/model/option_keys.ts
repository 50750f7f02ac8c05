/**
 * The check that an options object names only options that exist: from plain JavaScript a
 * misspelt `{ polcy: … }` or `{ requantise: "Q8_0" }` would otherwise run the defaults and
 * convert something other than what was asked, without a word.
 *
 * @module
 */
import { similarNames } from "./similar_names.ts";

/** An options type's every key, each `true`: a literal of it is checked complete by tsc. */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/**
 * Throws a `TypeError` if `options` has an own enumerable key that `known` lacks. Keys
 * whose value is `undefined` are checked too: the name is what is wrong.
 *
 * @param options The caller's options (`undefined` and `null` pass).
 * @param known Every key the options may have.
 * @param what Whose options they are, for the message (e.g. `convertFile()`).
 * @throws {TypeError} Naming the unknown key and the closest known ones.
 *
 * @example
 * ```ts
 * import { checkOptionKeys } from "./option_keys.ts";
 * import assert from "node:assert/strict";
 * const known = { policy: true, threads: true } as const;
 * checkOptionKeys({ threads: 2 }, known, "convertGguf()");
 * assert.throws(
 *   () => checkOptionKeys({ polcy: {} }, known, "convertGguf()"),
 *   { name: "TypeError", message: 'convertGguf(): unknown option "polcy" (did you mean policy?)' },
 * );
 * ```
 */
export function checkOptionKeys(
  options: object | undefined | null,
  known: Readonly<Record<string, true>>,
  what: string,
): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object, not ${typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(known, key)) continue;
    const near = similarNames(key, Object.keys(known));
    throw new TypeError(
      `${what}: unknown option ${JSON.stringify(key)}${
        near.length ? ` (did you mean ${near.join(" or ")}?)` : ""
      }`,
    );
  }
}

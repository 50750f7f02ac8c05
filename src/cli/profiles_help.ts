/**
 * The `--for help` text: every runtime profile with its types and where the list comes
 * from.
 *
 * @module
 */
import { runtimeProfiles } from "../convert/profiles.ts";

/**
 * Lists the runtime profiles `--for` takes.
 *
 * @returns Lines of text, one block per profile.
 *
 * @example
 * ```ts
 * import { profilesHelp } from "./profiles_help.ts";
 * import assert from "node:assert/strict";
 * assert.match(profilesHelp(), /^q4q8 +Q4_0, Q8_0, F32$/m);
 * ```
 */
export function profilesHelp(): string {
  const lines = ["Runtime profiles (--for NAME: the target, with --requantize auto unless given):"];
  for (const profile of runtimeProfiles()) {
    lines.push(`${profile.name.padEnd(10)} ${profile.types.join(", ")}`);
    if (profile.aliases.length > 0) {
      lines.push(`${"".padEnd(10)} (also: ${profile.aliases.join(", ")})`);
    }
    lines.push(`${"".padEnd(10)} source: ${profile.source}`);
  }
  return lines.join("\n") + "\n";
}

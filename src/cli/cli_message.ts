/**
 * The library's messages name its options ("option lenient: true"); on the command line the same
 * advice names the flags that set them.
 *
 * @module
 */
import { describeUrl } from "../model/describe_url.ts";
import { escapeText } from "../model/escape_text.ts";

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

/** The most characters of a message line the CLI prints. */
const MOST_LINE_CHARS = 2000;

/**
 * A message made safe and short enough for one terminal line: escaped as
 * {@linkcode escapeText} does, and past {@linkcode MOST_LINE_CHARS} characters cut in
 * the middle (a key of megabytes would otherwise make one line of megabytes), its start
 * and end kept.
 *
 * @param message Any message, such as one that quotes a name from a file.
 * @returns The line's text.
 *
 * @example
 * ```ts
 * import { messageLine } from "./cli_message.ts";
 * import assert from "node:assert/strict";
 * assert.equal(messageLine("key \x1b[2J"), "key \\x1b[2J");
 * const line = messageLine(`duplicate key "${"k".repeat(1e6)}"`);
 * assert.ok(line.length < 2100);
 * assert.match(line, /^duplicate key "k+… \(\d+ characters left out\) …k+"$/);
 * ```
 */
export function messageLine(message: string): string {
  const text = escapeText(message);
  if (text.length <= MOST_LINE_CHARS) return text;
  const head = Math.floor(MOST_LINE_CHARS * 0.75);
  const tail = MOST_LINE_CHARS - head;
  return `${text.slice(0, head)}… (${text.length - head - tail} characters left out) …${
    text.slice(-tail)
  }`;
}

/**
 * A model's name as the CLI prints it: a path as given, an `http(s)` URL without its
 * credentials, query or fragment, which may hold tokens (as error messages show it).
 *
 * @param input The model argument.
 * @returns The name to print.
 *
 * @example
 * ```ts
 * import { shownInput } from "./cli_message.ts";
 * import assert from "node:assert/strict";
 * assert.equal(shownInput("https://u:pw@host/m.gguf?token=abc"), "https://host/m.gguf");
 * assert.equal(shownInput("models/m.gguf"), "models/m.gguf");
 * ```
 */
export function shownInput(input: string): string {
  if (!/^https?:\/\//i.test(input)) return input;
  try {
    return describeUrl(new URL(input));
  } catch {
    return input;
  }
}

/**
 * The names of an output's temporaries, which must fit in a file name of 255 bytes
 * (NAME_MAX on Linux and macOS) whatever the output's name: `.NAME.tmp-PID-RANDOM` for a
 * name of up to {@linkcode LONGEST_PLAIN_NAME} bytes; for a longer one
 * `.PREFIX.tmp~DIGEST-PID-RANDOM`, where PREFIX is the name's first bytes (at most
 * {@linkcode LONG_NAME_PREFIX_BYTES}, cut between characters) and DIGEST the first 32 hex
 * digits of the SHA-256 of its UTF-8 bytes.
 *
 * The two forms cannot be taken for each other: after `.tmp-` a plain temporary has only
 * digits before its last `-`, while a long name's DIGEST (hex) follows `.tmp~`, so the
 * four characters before its PID are hex digits, never `.tmp`. Two long names share the
 * start of their temporaries only if they share their first bytes and their SHA-256's
 * first 128 bits.
 *
 * @module
 */

/** The most bytes a file name may have (NAME_MAX on Linux and macOS). */
const NAME_MAX = 255;
/** The most digits a process id has (Windows' are 32-bit). */
const PID_DIGITS = 10;
/** The random part's length. */
const RANDOM_CHARS = 8;
/** Hex digits of the SHA-256 a long name's temporaries carry (128 bits). */
const DIGEST_HEX = 32;

/**
 * The longest output name, in UTF-8 bytes, whose temporaries are `.NAME.tmp-PID-RANDOM`:
 * the most that fits with a 10-digit process id.
 */
export const LONGEST_PLAIN_NAME: number = NAME_MAX - (1 + ".tmp-".length + PID_DIGITS + 1 +
  RANDOM_CHARS);

/** The most bytes of a longer name kept at the start of its temporaries' names. */
export const LONG_NAME_PREFIX_BYTES: number = NAME_MAX - (1 + ".tmp~".length + DIGEST_HEX + 1 +
  PID_DIGITS + 1 + RANDOM_CHARS);

/** The start of the temporaries' names of one output, new and left over. */
export interface TemporaryPrefixes {
  /** How this run's temporary's name begins; the process id and a random part follow. */
  prefix: string;
  /**
   * How the temporaries of this output left by other runs begin: `prefix`, and for a long
   * name also `.NAME.tmp-` (that of earlier versions, whose names fit with a short pid).
   */
  leftovers: string[];
}

/** UTF-8 bytes of one code point (a lone surrogate is written as U+FFFD: 3 bytes). */
function utf8Bytes(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/** The longest start of `name` of at most `max` UTF-8 bytes that ends between characters. */
function utf8Prefix(name: string, max: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of name) {
    bytes += utf8Bytes(char.codePointAt(0)!);
    if (bytes > max) break;
    end += char.length;
  }
  return name.slice(0, end);
}

/**
 * How the temporaries of the output file `name` are named (see the module's doc).
 *
 * @param name The output file's name, without its directory.
 * @returns The prefix of this run's temporary and those of leftovers to look for.
 *
 * @example
 * ```ts
 * import { temporaryPrefixes } from "./temporary_name.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(await temporaryPrefixes("model.gguf"), {
 *   prefix: ".model.gguf.tmp-",
 *   leftovers: [".model.gguf.tmp-"],
 * });
 * const long = "模".repeat(80) + ".gguf"; // 245 bytes
 * const { prefix } = await temporaryPrefixes(long);
 * assert.match(prefix, /^\.(模){65}\.tmp~[0-9a-f]{32}-$/); // 195 bytes of the name
 * assert.ok(new TextEncoder().encode(prefix + "4294967295-abcdefgh").length <= 255);
 * ```
 */
export async function temporaryPrefixes(name: string): Promise<TemporaryPrefixes> {
  const bytes = new TextEncoder().encode(name);
  const plain = `.${name}.tmp-`;
  if (bytes.length <= LONGEST_PLAIN_NAME) return { prefix: plain, leftovers: [plain] };
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest.subarray(0, DIGEST_HEX / 2)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const prefix = `.${utf8Prefix(name, LONG_NAME_PREFIX_BYTES)}.tmp~${hex}-`;
  return { prefix, leftovers: [prefix, plain] };
}

/**
 * The process id in a leftover temporary's name after its prefix (`PID-RANDOM`), or
 * `undefined` when the rest is not of that form.
 *
 * @param rest The name after one of {@linkcode TemporaryPrefixes.leftovers}.
 * @returns The process id.
 *
 * @example
 * ```ts
 * import { temporaryPid } from "./temporary_name.ts";
 * import assert from "node:assert/strict";
 * assert.equal(temporaryPid("4242-k3j9x0aa"), 4242);
 * assert.equal(temporaryPid("5.tmp-4242-k3j9x0aa"), undefined); // another output's
 * ```
 */
export function temporaryPid(rest: string): number | undefined {
  const match = rest.match(/^(\d{1,15})-[0-9a-z]*$/);
  if (match === null) return undefined;
  const pid = Number(match[1]);
  return pid > 0 ? pid : undefined;
}

/**
 * A random part for a temporary's name: 8 base-36 characters.
 *
 * @returns The characters.
 *
 * @example
 * ```ts
 * import { randomPart } from "./temporary_name.ts";
 * import assert from "node:assert/strict";
 * assert.match(randomPart(), /^[0-9a-z]{8}$/);
 * ```
 */
export function randomPart(): string {
  return Math.random().toString(36).slice(2, 2 + RANDOM_CHARS).padEnd(RANDOM_CHARS, "0");
}

/**
 * Text from a file made safe to print: a model's key and tensor names are arbitrary bytes,
 * and printed raw, `ESC ] 0 ; … BEL` retitles the terminal, `ESC [ 2 J` clears it.
 *
 * @module
 */

/** Control characters with a short escape. */
const NAMED: Record<number, string> = { 0x09: "\\t", 0x0a: "\\n", 0x0d: "\\r" };

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, "0");

/** The bidirectional controls and the line and paragraph separators. */
function isLayoutControl(c: number): boolean {
  return c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069);
}

/**
 * Escapes what a terminal could take as a command, or what would make a name display as
 * another: C0 controls (U+0000–U+001F), DEL, C1 controls (U+0080–U+009F), lone
 * surrogates, the bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
 * U+2066–U+2069: a right-to-left override shows `abc` as `cba`) and the line and
 * paragraph separators (U+2028, U+2029). A lone U+DC80–U+DCFF is a byte that was not
 * valid UTF-8, kept as U+DC00 + byte, and shows as that byte, `\xHH`; C0 controls and DEL
 * show as `\xHH` (`\t`, `\n`, `\r` by name), the others as `\uHHHH`. Everything else,
 * backslashes included, is left as it is, so escaping twice changes nothing.
 *
 * @param text Any text, such as a key or tensor name from a file.
 * @returns The text with no control characters and no lone surrogates.
 *
 * @example
 * ```ts
 * import { escapeText } from "./escape_text.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapeText("a\x1b]0;PWNED\x07"), "a\\x1b]0;PWNED\\x07");
 * assert.equal(escapeText("\u009b2J\udcff"), "\\u009b2J\\xff");
 * assert.equal(escapeText("blk.0.attn_q.weight 😀"), "blk.0.attn_q.weight 😀");
 * assert.equal(escapeText("x\u202egpj.exe"), "x\\u202egpj.exe"); // no right-to-left override
 * ```
 */
export function escapeText(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let escape: string;
    if (c < 0x20 || c === 0x7f) {
      escape = NAMED[c] ?? `\\x${hex(c, 2)}`;
    } else if ((c >= 0x80 && c <= 0x9f) || isLayoutControl(c)) {
      escape = `\\u${hex(c, 4)}`;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a pair: one astral character
        continue;
      }
      escape = `\\u${hex(c, 4)}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      escape = c >= 0xdc80 && c <= 0xdcff ? `\\x${hex(c - 0xdc00, 2)}` : `\\u${hex(c, 4)}`;
    } else {
      continue;
    }
    out += text.slice(from, i) + escape;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Quotes text for display: in double quotes, with `"` and `\` backslashed and the rest
 * escaped as {@linkcode escapeText} does.
 *
 * @param text Any text, such as a string value from a file.
 * @returns The quoted text, safe to print.
 *
 * @example
 * ```ts
 * import { quoteText } from "./escape_text.ts";
 * import assert from "node:assert/strict";
 * assert.equal(quoteText('say "hi"\n'), '"say \\"hi\\"\\n"');
 * assert.equal(quoteText("\x1b[2J"), '"\\x1b[2J"');
 * ```
 */
export function quoteText(text: string): string {
  return `"${escapeText(text.replace(/["\\]/g, "\\$&"))}"`;
}

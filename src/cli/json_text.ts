/**
 * JSON text that keeps what `JSON.stringify` loses for GGUF metadata: negative zero; and
 * that a terminal cannot take for commands: DEL and C1 controls escaped too.
 *
 * @module
 */

/**
 * A string as JSON, like `JSON.stringify` (which escapes C0 controls and lone surrogates),
 * with DEL and the C1 controls (U+007F–U+009F) escaped as well: `\u009b` is a terminal's
 * CSI, and the text reads back the same.
 *
 * @param text Any text.
 * @returns The JSON string literal.
 *
 * @example
 * ```ts
 * import { jsonString } from "./json_text.ts";
 * import assert from "node:assert/strict";
 * assert.equal(jsonString("\x1b\u009b[2J"), '"\\u001b\\u009b[2J"');
 * assert.equal(JSON.parse(jsonString("\u009b")), "\u009b");
 * ```
 */
export function jsonString(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Serializes plain JSON data like `JSON.stringify(value, null, indent)`, but writes
 * negative zero as `-0` (which JSON parsers read back as -0).
 *
 * @param value Plain data: objects, arrays, strings, numbers, booleans, `null`.
 * @param indent Spaces per nesting level.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { toJsonText } from "./json_text.ts";
 * import assert from "node:assert/strict";
 * assert.equal(toJsonText({ a: [-0, 1.5, null] }, 0), '{"a":[-0,1.5,null]}');
 * assert.ok(Object.is(JSON.parse(toJsonText(-0, 0)), -0));
 * ```
 */
export function toJsonText(value: unknown, indent = 1): string {
  return write(value, indent, "");
}

function write(value: unknown, indent: number, pad: string): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : JSON.stringify(value);
  if (typeof value === "string") return jsonString(value);
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const inner = pad + " ".repeat(indent);
  const open = indent > 0 ? "\n" + inner : "";
  const close = indent > 0 ? "\n" + pad : "";
  const comma = indent > 0 ? ",\n" + inner : ",";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return "[" + open + value.map((v) => write(v, indent, inner)).join(comma) + close + "]";
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) =>
    v !== undefined
  );
  if (entries.length === 0) return "{}";
  const colon = indent > 0 ? ": " : ":";
  return "{" + open +
    entries.map(([k, v]) => jsonString(k) + colon + write(v, indent, inner)).join(comma) +
    close + "}";
}
